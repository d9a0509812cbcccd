CREATE VIEW core."share_health__compound" AS
SELECT t."source_agency",
       t."source_record_id",
       t."name",
       t."division_code",
       t."address",
       t."household_count",
       t."_batch_id",
       t."_loaded_at"
FROM "compound" AS t
WHERE (t."division_code" LIKE '6109%');

CREATE VIEW core."share_health__special_population" AS
SELECT t."source_agency",
       t."source_record_id",
       exchange_pseudonym('health', t."id_number") AS "id_number",
       exchange_mask('name', t."name") AS "name",
       t."gender",
       t."programme",
       t."managing_unit",
       t."risk_level",
       t."start_date",
       t."end_date",
       t."division_code",
       t."_batch_id",
       t."_loaded_at"
FROM "special_population" AS t
WHERE (t."division_code" LIKE '6109%') AND t."programme" IN ('severe_mental_disorder');
