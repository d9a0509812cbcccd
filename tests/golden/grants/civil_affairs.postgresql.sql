CREATE MATERIALIZED VIEW "share_civil_affairs"."compound" AS
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
WHERE (t."division_code" LIKE '6109%')
WITH DATA;

CREATE UNIQUE INDEX "compound__key" ON "share_civil_affairs"."compound" (source_agency, source_record_id);

COMMENT ON MATERIALIZED VIEW "share_civil_affairs"."compound" IS $c$A residential compound (小区), the fifth level below the community/village. — shared with civil_affairs (安康市民政局) for: 社会救助审核（最低生活保障、特困供养）与城乡社区治理 [exchange-grant civil_affairs sha256:93878176c4040f39]$c$;

COMMENT ON COLUMN "share_civil_affairs"."compound"."source_record_id" IS $c$The agency's own identifier of this record. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_civil_affairs"."compound"."name" IS $c$Compound name. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_civil_affairs"."compound"."division_code" IS $c$Division of the community/village it belongs to (12 digits where known). [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_civil_affairs"."compound"."address" IS $c$Address. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_civil_affairs"."compound"."household_count" IS $c$Number of households. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_civil_affairs"."compound"."safety_status" IS $c$Safe-compound assessment. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_civil_affairs"."compound"."has_property_management" IS $c$Managed by a property company. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_civil_affairs"."compound"."assessed_date" IS $c$Date of the last assessment. [pii: none; mask: full]$c$;

CREATE MATERIALIZED VIEW "share_civil_affairs"."household" AS
SELECT t."source_agency",
       t."source_record_id",
       t."household_number",
       t."household_type",
       share_fn.mask_id(t."head_id_number") AS "head_id_number",
       t."head_name",
       t."address",
       t."division_code",
       t."member_count",
       t."low_income",
       t."_batch_id",
       t."_loaded_at"
FROM core."household" AS t
WHERE (t."division_code" LIKE '6109%')
WITH DATA;

CREATE UNIQUE INDEX "household__key" ON "share_civil_affairs"."household" (source_agency, source_record_id);

COMMENT ON MATERIALIZED VIEW "share_civil_affairs"."household" IS $c$A registered household (户), as kept by civil affairs or the household registration office. — shared with civil_affairs (安康市民政局) for: 社会救助审核（最低生活保障、特困供养）与城乡社区治理 [exchange-grant civil_affairs sha256:94f0d5f4c7ffbd9e]$c$;

COMMENT ON COLUMN "share_civil_affairs"."household"."source_record_id" IS $c$The agency's own identifier of this record. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_civil_affairs"."household"."household_number" IS $c$Household registration number (户号). [pii: quasi_identifier; mask: full]$c$;

COMMENT ON COLUMN "share_civil_affairs"."household"."household_type" IS $c$户别. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_civil_affairs"."household"."head_id_number" IS $c$Resident identity number of the head of household. [pii: direct_identifier; mask: partial (id)]$c$;

COMMENT ON COLUMN "share_civil_affairs"."household"."head_name" IS $c$Name of the head of household. [pii: direct_identifier; mask: full]$c$;

COMMENT ON COLUMN "share_civil_affairs"."household"."address" IS $c$Registered address. [pii: quasi_identifier; mask: full]$c$;

COMMENT ON COLUMN "share_civil_affairs"."household"."division_code" IS $c$Administrative division of the address. [pii: quasi_identifier; mask: full]$c$;

COMMENT ON COLUMN "share_civil_affairs"."household"."member_count" IS $c$Number of registered members. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_civil_affairs"."household"."low_income" IS $c$Receives minimum living allowance (低保). [pii: sensitive; mask: full]$c$;

CREATE MATERIALIZED VIEW "share_civil_affairs"."organization" AS
SELECT t."source_agency",
       t."source_record_id",
       t."credit_code",
       t."name",
       share_fn.mask_name(t."legal_representative") AS "legal_representative",
       t."registered_address",
       t."division_code",
       t."established_date",
       t."status",
       t."industry",
       t."registered_capital",
       t."_batch_id",
       t."_loaded_at"
FROM core."organization" AS t
WHERE (t."division_code" LIKE '6109%')
WITH DATA;

CREATE UNIQUE INDEX "organization__key" ON "share_civil_affairs"."organization" (source_agency, source_record_id);

COMMENT ON MATERIALIZED VIEW "share_civil_affairs"."organization" IS $c$A registered organization (enterprise, social organization, institution) by its unified social credit code. — shared with civil_affairs (安康市民政局) for: 社会救助审核（最低生活保障、特困供养）与城乡社区治理 [exchange-grant civil_affairs sha256:df6d7c39c3e23d16]$c$;

COMMENT ON COLUMN "share_civil_affairs"."organization"."source_record_id" IS $c$The agency's own identifier of this record. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_civil_affairs"."organization"."credit_code" IS $c$Unified social credit code (GB 32100). [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_civil_affairs"."organization"."name" IS $c$Registered name. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_civil_affairs"."organization"."legal_representative" IS $c$Name of the legal representative. [pii: direct_identifier; mask: partial (name)]$c$;

COMMENT ON COLUMN "share_civil_affairs"."organization"."registered_address" IS $c$Registered address. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_civil_affairs"."organization"."division_code" IS $c$Administrative division of the registered address. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_civil_affairs"."organization"."established_date" IS $c$Date of establishment. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_civil_affairs"."organization"."status" IS $c$Registration status. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_civil_affairs"."organization"."industry" IS $c$Industry classification (GB/T 4754). [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_civil_affairs"."organization"."registered_capital" IS $c$Registered capital in 10,000 CNY. [pii: none; mask: full]$c$;

CREATE MATERIALIZED VIEW "share_civil_affairs"."person" AS
SELECT t."source_agency",
       t."source_record_id",
       share_fn.mask_id(t."id_number") AS "id_number",
       t."name",
       t."gender",
       t."birth_date",
       share_fn.mask_phone(t."phone") AS "phone",
       t."address",
       t."division_code",
       t."household_number",
       t."_batch_id",
       t."_loaded_at"
FROM core."person" AS t
WHERE (t."division_code" LIKE '6109%' OR (t."division_code" IS NULL AND EXISTS (SELECT 1 FROM core."household" AS j WHERE j."household_number" = t."household_number" AND (j."division_code" LIKE '6109%'))))
WITH DATA;

CREATE UNIQUE INDEX "person__key" ON "share_civil_affairs"."person" (source_agency, source_record_id);

COMMENT ON MATERIALIZED VIEW "share_civil_affairs"."person" IS $c$A resident as recorded by one agency (户籍人口, 服务对象, 当事人). The master person index links records of the same real person across agencies. — shared with civil_affairs (安康市民政局) for: 社会救助审核（最低生活保障、特困供养）与城乡社区治理 [exchange-grant civil_affairs sha256:e2167590bb558f37]$c$;

COMMENT ON COLUMN "share_civil_affairs"."person"."source_record_id" IS $c$The agency's own identifier of this record. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_civil_affairs"."person"."id_number" IS $c$18-digit resident identity number (GB 11643); may be missing. [pii: direct_identifier; mask: partial (id)]$c$;

COMMENT ON COLUMN "share_civil_affairs"."person"."name" IS $c$Full name as registered. [pii: direct_identifier; mask: full]$c$;

COMMENT ON COLUMN "share_civil_affairs"."person"."gender" IS $c$Gender code. [pii: quasi_identifier; mask: full]$c$;

COMMENT ON COLUMN "share_civil_affairs"."person"."birth_date" IS $c$Date of birth. [pii: quasi_identifier; mask: full]$c$;

COMMENT ON COLUMN "share_civil_affairs"."person"."phone" IS $c$Mobile or landline number. [pii: direct_identifier; mask: partial (phone)]$c$;

COMMENT ON COLUMN "share_civil_affairs"."person"."address" IS $c$Residential address. [pii: quasi_identifier; mask: full]$c$;

COMMENT ON COLUMN "share_civil_affairs"."person"."division_code" IS $c$Administrative division of the address (6, 9 or 12 digits, GB/T 2260 prefix). [pii: quasi_identifier; mask: full]$c$;

COMMENT ON COLUMN "share_civil_affairs"."person"."household_number" IS $c$Household registration number (户号) the person belongs to, if known. [pii: quasi_identifier; mask: full]$c$;
