CREATE VIEW core."share_police__case" AS
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
       t."vehicle_plate",
       t."longitude",
       t."latitude",
       t."_batch_id",
       t."_loaded_at"
FROM "case" AS t;

CREATE VIEW core."share_police__case_party" AS
SELECT t."source_agency",
       t."source_record_id",
       t."case_number",
       t."role",
       t."id_number",
       t."name",
       t."gender",
       t."phone",
       t."_batch_id",
       t."_loaded_at"
FROM "case_party" AS t;

CREATE VIEW core."share_police__checkpoint_pass" AS
SELECT t."source_agency",
       t."source_record_id",
       t."plate",
       t."checkpoint_code",
       t."checkpoint_name",
       t."direction",
       t."passed_at",
       t."speed_kmh",
       t."division_code",
       t."longitude",
       t."latitude",
       t."_batch_id",
       t."_loaded_at"
FROM "checkpoint_pass" AS t;

CREATE VIEW core."share_police__compound" AS
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
FROM "compound" AS t;

CREATE VIEW core."share_police__compound_access" AS
SELECT t."source_agency",
       t."source_record_id",
       t."compound_code",
       t."gate",
       t."card_number",
       t."id_number",
       t."person_name",
       t."direction",
       t."passed_at",
       t."division_code",
       t."longitude",
       t."latitude",
       t."_batch_id",
       t."_loaded_at"
FROM "compound_access" AS t;

CREATE VIEW core."share_police__dispute" AS
SELECT t."source_agency",
       t."source_record_id",
       t."dispute_number",
       t."category",
       t."status",
       t."accepted_date",
       t."closed_date",
       exchange_pseudonym('police', t."applicant_id_number") AS "applicant_id_number",
       exchange_pseudonym('police', t."respondent_id_number") AS "respondent_id_number",
       t."division_code",
       t."_batch_id",
       t."_loaded_at"
FROM "dispute" AS t;

CREATE VIEW core."share_police__dispute_step" AS
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
FROM "dispute_step" AS t;

CREATE VIEW core."share_police__hotel_stay" AS
SELECT t."source_agency",
       t."source_record_id",
       t."guest_id_number",
       t."guest_name",
       t."hotel_code",
       t."hotel_name",
       t."room",
       t."check_in",
       t."check_out",
       t."division_code",
       t."longitude",
       t."latitude",
       t."_batch_id",
       t."_loaded_at"
FROM "hotel_stay" AS t;

CREATE VIEW core."share_police__household" AS
SELECT t."source_agency",
       t."source_record_id",
       t."household_number",
       t."household_type",
       t."head_id_number",
       t."head_name",
       t."address",
       t."division_code",
       t."member_count",
       t."_batch_id",
       t."_loaded_at"
FROM "household" AS t;

CREATE VIEW core."share_police__internet_session" AS
SELECT t."source_agency",
       t."source_record_id",
       t."user_id_number",
       t."user_name",
       t."venue_code",
       t."venue_name",
       t."seat",
       t."start_time",
       t."end_time",
       t."division_code",
       t."longitude",
       t."latitude",
       t."_batch_id",
       t."_loaded_at"
FROM "internet_session" AS t;

CREATE VIEW core."share_police__organization" AS
SELECT t."source_agency",
       t."source_record_id",
       t."credit_code",
       t."name",
       t."legal_representative",
       t."legal_rep_id_number",
       t."registered_address",
       t."division_code",
       t."established_date",
       t."status",
       t."industry",
       t."registered_capital",
       t."_batch_id",
       t."_loaded_at"
FROM "organization" AS t;

CREATE VIEW core."share_police__person" AS
SELECT t."source_agency",
       t."source_record_id",
       t."id_number",
       t."name",
       t."gender",
       t."birth_date",
       t."ethnicity",
       t."phone",
       t."address",
       t."division_code",
       t."household_number",
       t."_batch_id",
       t."_loaded_at"
FROM "person" AS t;

CREATE VIEW core."share_police__special_population" AS
SELECT t."source_agency",
       t."source_record_id",
       t."id_number",
       t."name",
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
WHERE t."programme" IN ('community_correction', 'drug_rehabilitation', 'released_prisoner');

CREATE VIEW core."share_police__vehicle" AS
SELECT t."source_agency",
       t."source_record_id",
       t."plate",
       t."vehicle_use",
       t."brand",
       t."color",
       t."owner_name",
       t."owner_id_number",
       t."owner_credit_code",
       t."owner_phone",
       t."division_code",
       t."registered_date",
       t."_batch_id",
       t."_loaded_at"
FROM "vehicle" AS t;
