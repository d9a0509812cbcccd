"""The hostile input corpus: files, their expected outcomes (cases.yaml) and the generator."""
