CREATE VIEW core."share_street_office_hanbin__compound" AS
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
WHERE (t."division_code" LIKE '610902%');

CREATE VIEW core."share_street_office_hanbin__dispute" AS
SELECT t."source_agency",
       t."source_record_id",
       t."dispute_number",
       t."category",
       t."status",
       t."accepted_date",
       t."closed_date",
       exchange_mask('name', t."applicant_name") AS "applicant_name",
       exchange_mask('phone', t."applicant_phone") AS "applicant_phone",
       exchange_mask('name', t."respondent_name") AS "respondent_name",
       t."division_code",
       t."amount",
       t."_batch_id",
       t."_loaded_at"
FROM "dispute" AS t
WHERE (t."division_code" LIKE '610902%');

CREATE VIEW core."share_street_office_hanbin__dispute_step" AS
SELECT t."source_agency",
       t."source_record_id",
       t."dispute_number",
       t."step",
       t."at",
       t."window",
       t."unit",
       t."division_code",
       t."_batch_id",
       t."_loaded_at"
FROM "dispute_step" AS t
WHERE (t."division_code" LIKE '610902%');

CREATE VIEW core."share_street_office_hanbin__household" AS
SELECT t."source_agency",
       t."source_record_id",
       t."household_number",
       t."household_type",
       exchange_mask('id', t."head_id_number") AS "head_id_number",
       exchange_mask('name', t."head_name") AS "head_name",
       t."address",
       t."division_code",
       t."member_count",
       t."_batch_id",
       t."_loaded_at"
FROM "household" AS t
WHERE (t."division_code" LIKE '610902%');

CREATE VIEW core."share_street_office_hanbin__person" AS
SELECT t."source_agency",
       t."source_record_id",
       exchange_mask('id', t."id_number") AS "id_number",
       exchange_mask('name', t."name") AS "name",
       t."gender",
       exchange_mask('year', t."birth_date") AS "birth_date",
       exchange_mask('phone', t."phone") AS "phone",
       t."address",
       t."division_code",
       t."household_number",
       t."_batch_id",
       t."_loaded_at"
FROM "person" AS t
WHERE (t."division_code" LIKE '610902%' OR (t."division_code" IS NULL AND EXISTS (SELECT 1 FROM "household" AS j WHERE j."household_number" = t."household_number" AND (j."division_code" LIKE '610902%'))));
