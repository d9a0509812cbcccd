"""The web console (``exchange serve`` → ``/console``): sign-in per agency user, a purpose before any
search, element search, the person page (profile, timeline, relation graph drawn as a graph) and the
auditors' pages — server-rendered HTML in Chinese, with its one stylesheet served locally."""
