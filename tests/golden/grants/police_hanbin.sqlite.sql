CREATE VIEW core."share_police_hanbin__case" AS
SELECT t."source_agency",
       t."source_record_id",
       t."case_number",
       t."case_type",
       t."title",
       t."occurred_at",
       t."reported_date",
       t."division_code",
       t."address",
       t."status",
       t."handling_unit",
       t."offence",
       t."mo_entry",
       t."mo_target",
       t."mo_tools",
       exchange_mask('name', t."vehicle_plate") AS "vehicle_plate",
       t."longitude",
       t."latitude",
       t."_batch_id",
       t."_loaded_at"
FROM "case" AS t
WHERE (t."division_code" LIKE '610902%');

CREATE VIEW core."share_police_hanbin__case_party" AS
SELECT t."source_agency",
       t."source_record_id",
       t."case_number",
       t."role",
       exchange_mask('id', t."id_number") AS "id_number",
       t."name",
       t."gender",
       exchange_mask('phone', t."phone") AS "phone",
       t."_batch_id",
       t."_loaded_at"
FROM "case_party" AS t
WHERE (EXISTS (SELECT 1 FROM "case" AS j WHERE j."case_number" = t."case_number" AND (j."division_code" LIKE '610902%')));

CREATE VIEW core."share_police_hanbin__compound" AS
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
