CREATE MATERIALIZED VIEW "share_street_office_hanbin"."compound" AS
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
FROM core."compound" AS t
WHERE (t."division_code" LIKE '610902%')
WITH DATA;

CREATE UNIQUE INDEX "compound__key" ON "share_street_office_hanbin"."compound" (source_agency, source_record_id);

COMMENT ON MATERIALIZED VIEW "share_street_office_hanbin"."compound" IS $c$A residential compound (小区), the fifth level below the community/village. — shared with street_office_hanbin (汉滨区街道办事处) for: 网格化服务管理与矛盾纠纷排查调处（汉滨区） [exchange-grant street_office_hanbin sha256:4e84593351523c0a]$c$;

COMMENT ON COLUMN "share_street_office_hanbin"."compound"."source_record_id" IS $c$The agency's own identifier of this record. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_street_office_hanbin"."compound"."name" IS $c$Compound name. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_street_office_hanbin"."compound"."division_code" IS $c$Division of the community/village it belongs to (12 digits where known). [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_street_office_hanbin"."compound"."address" IS $c$Address. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_street_office_hanbin"."compound"."household_count" IS $c$Number of households. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_street_office_hanbin"."compound"."safety_status" IS $c$Safe-compound assessment. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_street_office_hanbin"."compound"."has_property_management" IS $c$Managed by a property company. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_street_office_hanbin"."compound"."assessed_date" IS $c$Date of the last assessment. [pii: none; mask: full]$c$;

CREATE MATERIALIZED VIEW "share_street_office_hanbin"."dispute" AS
SELECT t."source_agency",
       t."source_record_id",
       t."dispute_number",
       t."category",
       t."status",
       t."accepted_date",
       t."closed_date",
       share_fn.mask_name(t."applicant_name") AS "applicant_name",
       share_fn.mask_phone(t."applicant_phone") AS "applicant_phone",
       share_fn.mask_name(t."respondent_name") AS "respondent_name",
       t."division_code",
       t."amount",
       t."_batch_id",
       t."_loaded_at"
FROM core."dispute" AS t
WHERE (t."division_code" LIKE '610902%')
WITH DATA;

CREATE UNIQUE INDEX "dispute__key" ON "share_street_office_hanbin"."dispute" (source_agency, source_record_id);

COMMENT ON MATERIALIZED VIEW "share_street_office_hanbin"."dispute" IS $c$A mediation case of the dispute mediation centre (矛盾纠纷调解), received at one of its intake windows; status runs accepted → mediating → resolved → judicially confirmed. — shared with street_office_hanbin (汉滨区街道办事处) for: 网格化服务管理与矛盾纠纷排查调处（汉滨区） [exchange-grant street_office_hanbin sha256:ad7100c7dff8545a]$c$;

COMMENT ON COLUMN "share_street_office_hanbin"."dispute"."source_record_id" IS $c$The agency's own identifier of this record. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_street_office_hanbin"."dispute"."dispute_number" IS $c$Registration number. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_street_office_hanbin"."dispute"."category" IS $c$Intake window (dispute category). [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_street_office_hanbin"."dispute"."status" IS $c$Current status. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_street_office_hanbin"."dispute"."accepted_date" IS $c$Date accepted. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_street_office_hanbin"."dispute"."closed_date" IS $c$Date resolved or closed. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_street_office_hanbin"."dispute"."applicant_name" IS $c$Name of the applicant party. [pii: direct_identifier; mask: partial (name)]$c$;

COMMENT ON COLUMN "share_street_office_hanbin"."dispute"."applicant_phone" IS $c$Applicant's phone. [pii: direct_identifier; mask: partial (phone)]$c$;

COMMENT ON COLUMN "share_street_office_hanbin"."dispute"."respondent_name" IS $c$Name of the respondent (person or organization). [pii: direct_identifier; mask: partial (name)]$c$;

COMMENT ON COLUMN "share_street_office_hanbin"."dispute"."division_code" IS $c$Where the dispute arose. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_street_office_hanbin"."dispute"."amount" IS $c$Amount in dispute, CNY. [pii: sensitive; mask: full]$c$;

CREATE MATERIALIZED VIEW "share_street_office_hanbin"."dispute_step" AS
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
FROM core."dispute_step" AS t
WHERE (t."division_code" LIKE '610902%')
WITH DATA;

CREATE UNIQUE INDEX "dispute_step__key" ON "share_street_office_hanbin"."dispute_step" (source_agency, source_record_id);

COMMENT ON MATERIALIZED VIEW "share_street_office_hanbin"."dispute_step" IS $c$One step of a dispute through the mediation centre (调解流程节点): intake at one of its 13 windows, assignment to the responsible unit, mediation, and either an agreement (then judicial confirmation, or closed) or the hand-back of a difficult case to its unit. The centre's platform exports every status change; the queue of each window and its overdue cases are read from these rows. — shared with street_office_hanbin (汉滨区街道办事处) for: 网格化服务管理与矛盾纠纷排查调处（汉滨区） [exchange-grant street_office_hanbin sha256:6e55196ed5120984]$c$;

COMMENT ON COLUMN "share_street_office_hanbin"."dispute_step"."source_record_id" IS $c$The platform's identifier of this status change. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_street_office_hanbin"."dispute_step"."dispute_number" IS $c$Registration number of the dispute (矛盾纠纷 dispute_number). [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_street_office_hanbin"."dispute_step"."step" IS $c$The step reached. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_street_office_hanbin"."dispute_step"."at" IS $c$When it was reached. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_street_office_hanbin"."dispute_step"."window" IS $c$The intake window (dispute category) the dispute came in at. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_street_office_hanbin"."dispute_step"."unit" IS $c$The responsible unit it is assigned or handed back to. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_street_office_hanbin"."dispute_step"."division_code" IS $c$Where the dispute arose (the jurisdiction that reads it). [pii: none; mask: full]$c$;

CREATE MATERIALIZED VIEW "share_street_office_hanbin"."household" AS
SELECT t."source_agency",
       t."source_record_id",
       t."household_number",
       t."household_type",
       share_fn.mask_id(t."head_id_number") AS "head_id_number",
       share_fn.mask_name(t."head_name") AS "head_name",
       t."address",
       t."division_code",
       t."member_count",
       t."_batch_id",
       t."_loaded_at"
FROM core."household" AS t
WHERE (t."division_code" LIKE '610902%')
WITH DATA;

CREATE UNIQUE INDEX "household__key" ON "share_street_office_hanbin"."household" (source_agency, source_record_id);

COMMENT ON MATERIALIZED VIEW "share_street_office_hanbin"."household" IS $c$A registered household (户), as kept by civil affairs or the household registration office. — shared with street_office_hanbin (汉滨区街道办事处) for: 网格化服务管理与矛盾纠纷排查调处（汉滨区） [exchange-grant street_office_hanbin sha256:7cb1fd1d428bd8e5]$c$;

COMMENT ON COLUMN "share_street_office_hanbin"."household"."source_record_id" IS $c$The agency's own identifier of this record. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_street_office_hanbin"."household"."household_number" IS $c$Household registration number (户号). [pii: quasi_identifier; mask: full]$c$;

COMMENT ON COLUMN "share_street_office_hanbin"."household"."household_type" IS $c$户别. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_street_office_hanbin"."household"."head_id_number" IS $c$Resident identity number of the head of household. [pii: direct_identifier; mask: partial (id)]$c$;

COMMENT ON COLUMN "share_street_office_hanbin"."household"."head_name" IS $c$Name of the head of household. [pii: direct_identifier; mask: partial (name)]$c$;

COMMENT ON COLUMN "share_street_office_hanbin"."household"."address" IS $c$Registered address. [pii: quasi_identifier; mask: full]$c$;

COMMENT ON COLUMN "share_street_office_hanbin"."household"."division_code" IS $c$Administrative division of the address. [pii: quasi_identifier; mask: full]$c$;

COMMENT ON COLUMN "share_street_office_hanbin"."household"."member_count" IS $c$Number of registered members. [pii: none; mask: full]$c$;

CREATE MATERIALIZED VIEW "share_street_office_hanbin"."person" AS
SELECT t."source_agency",
       t."source_record_id",
       share_fn.mask_id(t."id_number") AS "id_number",
       share_fn.mask_name(t."name") AS "name",
       t."gender",
       share_fn.mask_year((t."birth_date")::date) AS "birth_date",
       share_fn.mask_phone(t."phone") AS "phone",
       t."address",
       t."division_code",
       t."household_number",
       t."_batch_id",
       t."_loaded_at"
FROM core."person" AS t
WHERE (t."division_code" LIKE '610902%' OR (t."division_code" IS NULL AND EXISTS (SELECT 1 FROM core."household" AS j WHERE j."household_number" = t."household_number" AND (j."division_code" LIKE '610902%'))))
WITH DATA;

CREATE UNIQUE INDEX "person__key" ON "share_street_office_hanbin"."person" (source_agency, source_record_id);

COMMENT ON MATERIALIZED VIEW "share_street_office_hanbin"."person" IS $c$A resident as recorded by one agency (户籍人口, 服务对象, 当事人). The master person index links records of the same real person across agencies. — shared with street_office_hanbin (汉滨区街道办事处) for: 网格化服务管理与矛盾纠纷排查调处（汉滨区） [exchange-grant street_office_hanbin sha256:7babb54597717af1]$c$;

COMMENT ON COLUMN "share_street_office_hanbin"."person"."source_record_id" IS $c$The agency's own identifier of this record. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_street_office_hanbin"."person"."id_number" IS $c$18-digit resident identity number (GB 11643); may be missing. [pii: direct_identifier; mask: partial (id)]$c$;

COMMENT ON COLUMN "share_street_office_hanbin"."person"."name" IS $c$Full name as registered. [pii: direct_identifier; mask: partial (name)]$c$;

COMMENT ON COLUMN "share_street_office_hanbin"."person"."gender" IS $c$Gender code. [pii: quasi_identifier; mask: full]$c$;

COMMENT ON COLUMN "share_street_office_hanbin"."person"."birth_date" IS $c$Date of birth. [pii: quasi_identifier; mask: partial (year)]$c$;

COMMENT ON COLUMN "share_street_office_hanbin"."person"."phone" IS $c$Mobile or landline number. [pii: direct_identifier; mask: partial (phone)]$c$;

COMMENT ON COLUMN "share_street_office_hanbin"."person"."address" IS $c$Residential address. [pii: quasi_identifier; mask: full]$c$;

COMMENT ON COLUMN "share_street_office_hanbin"."person"."division_code" IS $c$Administrative division of the address (6, 9 or 12 digits, GB/T 2260 prefix). [pii: quasi_identifier; mask: full]$c$;

COMMENT ON COLUMN "share_street_office_hanbin"."person"."household_number" IS $c$Household registration number (户号) the person belongs to, if known. [pii: quasi_identifier; mask: full]$c$;
