CREATE MATERIALIZED VIEW "share_health"."compound" AS
SELECT t."source_agency",
       t."source_record_id",
       t."name",
       t."division_code",
       t."address",
       t."household_count",
       t."_batch_id",
       t."_loaded_at"
FROM core."compound" AS t
WHERE (t."division_code" LIKE '6109%')
WITH DATA;

CREATE UNIQUE INDEX "compound__key" ON "share_health"."compound" (source_agency, source_record_id);

COMMENT ON MATERIALIZED VIEW "share_health"."compound" IS $c$A residential compound (小区), the fifth level below the community/village. — shared with health (安康市卫生健康委员会) for: 严重精神障碍患者社区随访管理（精神卫生法第五十五条） [exchange-grant health sha256:57b5fe81ef982c76]$c$;

COMMENT ON COLUMN "share_health"."compound"."source_record_id" IS $c$The agency's own identifier of this record. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_health"."compound"."name" IS $c$Compound name. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_health"."compound"."division_code" IS $c$Division of the community/village it belongs to (12 digits where known). [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_health"."compound"."address" IS $c$Address. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_health"."compound"."household_count" IS $c$Number of households. [pii: none; mask: full]$c$;

CREATE MATERIALIZED VIEW "share_health"."special_population" AS
SELECT t."source_agency",
       t."source_record_id",
       'ps_' || left(encode("public".hmac(convert_to(t."id_number", 'UTF8'), (SELECT k.key FROM share_fn.pseudonym_key AS k WHERE k.consumer = 'health'), 'sha256'), 'hex'), 32) AS "id_number",
       share_fn.mask_name(t."name") AS "name",
       t."gender",
       t."programme",
       t."managing_unit",
       t."risk_level",
       t."start_date",
       t."end_date",
       t."division_code",
       t."_batch_id",
       t."_loaded_at"
FROM core."special_population" AS t
WHERE (t."division_code" LIKE '6109%') AND t."programme" IN ('severe_mental_disorder')
WITH DATA;

CREATE UNIQUE INDEX "special_population__key" ON "share_health"."special_population" (source_agency, source_record_id);

COMMENT ON MATERIALIZED VIEW "share_health"."special_population" IS $c$A person under a special population programme (community correction, drug rehabilitation, severe mental disorder, released prisoners, left-behind children, HIV care). Highly sensitive: shared only under an explicit grant. — shared with health (安康市卫生健康委员会) for: 严重精神障碍患者社区随访管理（精神卫生法第五十五条） [exchange-grant health sha256:58447c9ab3ae4f4f]$c$;

COMMENT ON COLUMN "share_health"."special_population"."source_record_id" IS $c$The agency's own identifier of this record. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_health"."special_population"."id_number" IS $c$Resident identity number. [pii: direct_identifier; mask: pseudonym]$c$;

COMMENT ON COLUMN "share_health"."special_population"."name" IS $c$Name. [pii: direct_identifier; mask: partial (name)]$c$;

COMMENT ON COLUMN "share_health"."special_population"."gender" IS $c$Gender code. [pii: quasi_identifier; mask: full]$c$;

COMMENT ON COLUMN "share_health"."special_population"."programme" IS $c$Programme the person is managed under. [pii: sensitive; mask: full]$c$;

COMMENT ON COLUMN "share_health"."special_population"."managing_unit" IS $c$Unit responsible (judicial office, community health centre...). [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_health"."special_population"."risk_level" IS $c$Assessed risk level. [pii: sensitive; mask: full]$c$;

COMMENT ON COLUMN "share_health"."special_population"."start_date" IS $c$Start of management. [pii: sensitive; mask: full]$c$;

COMMENT ON COLUMN "share_health"."special_population"."end_date" IS $c$Planned or actual end. [pii: sensitive; mask: full]$c$;

COMMENT ON COLUMN "share_health"."special_population"."division_code" IS $c$Division of residence. [pii: quasi_identifier; mask: full]$c$;
