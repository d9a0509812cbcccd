CREATE VIEW core."share_civil_affairs__compound" AS
SELECT t."source_agency",
       t."source_record_id",
       t."name",
       t."division_code",
       t."address",
       t."household_count",
       t."safety_status",
       t."has_property_management",
       t."assessed_date",
       t."_batch_id",
       t."_loaded_at"
FROM "compound" AS t
WHERE (t."division_code" LIKE '6109%');

CREATE VIEW core."share_civil_affairs__household" AS
SELECT t."source_agency",
       t."source_record_id",
       t."household_number",
       t."household_type",
       exchange_mask('id', t."head_id_number") AS "head_id_number",
       t."head_name",
       t."address",
       t."division_code",
       t."member_count",
       t."low_income",
       t."_batch_id",
       t."_loaded_at"
FROM "household" AS t
WHERE (t."division_code" LIKE '6109%');

CREATE VIEW core."share_civil_affairs__organization" AS
SELECT t."source_agency",
       t."source_record_id",
       t."credit_code",
       t."name",
       exchange_mask('name', t."legal_representative") AS "legal_representative",
       t."registered_address",
       t."division_code",
       t."established_date",
       t."status",
       t."industry",
       t."registered_capital",
       t."_batch_id",
       t."_loaded_at"
FROM "organization" AS t
WHERE (t."division_code" LIKE '6109%');

CREATE VIEW core."share_civil_affairs__person" AS
SELECT t."source_agency",
       t."source_record_id",
       exchange_mask('id', t."id_number") AS "id_number",
       t."name",
       t."gender",
       t."birth_date",
       exchange_mask('phone', t."phone") AS "phone",
       t."address",
       t."division_code",
       t."household_number",
       t."_batch_id",
       t."_loaded_at"
FROM "person" AS t
WHERE (t."division_code" LIKE '6109%' OR (t."division_code" IS NULL AND EXISTS (SELECT 1 FROM "household" AS j WHERE j."household_number" = t."household_number" AND (j."division_code" LIKE '6109%'))));
