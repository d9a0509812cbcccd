CREATE MATERIALIZED VIEW "share_police_hanbin"."case" AS
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
       share_fn.mask_name(t."vehicle_plate") AS "vehicle_plate",
       t."longitude",
       t."latitude",
       t."_batch_id",
       t."_loaded_at"
FROM core."case" AS t
WHERE (t."division_code" LIKE '610902%')
WITH DATA;

CREATE UNIQUE INDEX "case__key" ON "share_police_hanbin"."case" (source_agency, source_record_id);

COMMENT ON MATERIALIZED VIEW "share_police_hanbin"."case" IS $c$A police incident or case (警情/案件). — shared with police_hanbin (安康市公安局汉滨分局) for: 辖区案件办理与治安防控（汉滨区） [exchange-grant police_hanbin sha256:d47a40d371964561]$c$;

COMMENT ON COLUMN "share_police_hanbin"."case"."source_record_id" IS $c$The agency's own identifier of this record. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police_hanbin"."case"."case_number" IS $c$Case number (案件编号). [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police_hanbin"."case"."case_type" IS $c$Kind of case. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police_hanbin"."case"."title" IS $c$Short description (案由). [pii: sensitive; mask: full]$c$;

COMMENT ON COLUMN "share_police_hanbin"."case"."occurred_at" IS $c$When it happened. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police_hanbin"."case"."reported_date" IS $c$Date reported. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police_hanbin"."case"."division_code" IS $c$Administrative division where it happened. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police_hanbin"."case"."address" IS $c$Place of occurrence. [pii: quasi_identifier; mask: full]$c$;

COMMENT ON COLUMN "share_police_hanbin"."case"."status" IS $c$Handling status. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police_hanbin"."case"."handling_unit" IS $c$Police station or unit handling it. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police_hanbin"."case"."offence" IS $c$Offence or incident kind (案别): what serial-case linking compares first. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police_hanbin"."case"."mo_entry" IS $c$Modus operandi: how the offender got in or got hold of the target (作案手段/侵入方式). [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police_hanbin"."case"."mo_target" IS $c$Modus operandi: what was taken or attacked (侵害目标). [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police_hanbin"."case"."mo_tools" IS $c$Modus operandi: tools used or left (作案工具), several separated by 、 [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police_hanbin"."case"."vehicle_plate" IS $c$Plate of a vehicle seen with the offence (涉案车辆), if any. [pii: quasi_identifier; mask: partial (name)]$c$;

COMMENT ON COLUMN "share_police_hanbin"."case"."longitude" IS $c$Longitude of the place of occurrence (WGS 84 / GCJ-02 as the source records it), if known. [pii: quasi_identifier; mask: full]$c$;

COMMENT ON COLUMN "share_police_hanbin"."case"."latitude" IS $c$Latitude of the place of occurrence, if known. [pii: quasi_identifier; mask: full]$c$;

CREATE MATERIALIZED VIEW "share_police_hanbin"."case_party" AS
SELECT t."source_agency",
       t."source_record_id",
       t."case_number",
       t."role",
       share_fn.mask_id(t."id_number") AS "id_number",
       t."name",
       t."gender",
       share_fn.mask_phone(t."phone") AS "phone",
       t."_batch_id",
       t."_loaded_at"
FROM core."case_party" AS t
WHERE (EXISTS (SELECT 1 FROM core."case" AS j WHERE j."case_number" = t."case_number" AND (j."division_code" LIKE '610902%')))
WITH DATA;

CREATE UNIQUE INDEX "case_party__key" ON "share_police_hanbin"."case_party" (source_agency, source_record_id);

COMMENT ON MATERIALIZED VIEW "share_police_hanbin"."case_party" IS $c$A person's part in a police case (涉案人员), with role. — shared with police_hanbin (安康市公安局汉滨分局) for: 辖区案件办理与治安防控（汉滨区） [exchange-grant police_hanbin sha256:ce04c4f95892a311]$c$;

COMMENT ON COLUMN "share_police_hanbin"."case_party"."source_record_id" IS $c$The agency's own identifier of this record. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police_hanbin"."case_party"."case_number" IS $c$Case number. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police_hanbin"."case_party"."role" IS $c$Role in the case. [pii: sensitive; mask: full]$c$;

COMMENT ON COLUMN "share_police_hanbin"."case_party"."id_number" IS $c$Resident identity number of the party. [pii: direct_identifier; mask: partial (id)]$c$;

COMMENT ON COLUMN "share_police_hanbin"."case_party"."name" IS $c$Name. [pii: direct_identifier; mask: full]$c$;

COMMENT ON COLUMN "share_police_hanbin"."case_party"."gender" IS $c$Gender code. [pii: quasi_identifier; mask: full]$c$;

COMMENT ON COLUMN "share_police_hanbin"."case_party"."phone" IS $c$Contact number. [pii: direct_identifier; mask: partial (phone)]$c$;

CREATE MATERIALIZED VIEW "share_police_hanbin"."compound" AS
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

CREATE UNIQUE INDEX "compound__key" ON "share_police_hanbin"."compound" (source_agency, source_record_id);

COMMENT ON MATERIALIZED VIEW "share_police_hanbin"."compound" IS $c$A residential compound (小区), the fifth level below the community/village. — shared with police_hanbin (安康市公安局汉滨分局) for: 辖区案件办理与治安防控（汉滨区） [exchange-grant police_hanbin sha256:4e84593351523c0a]$c$;

COMMENT ON COLUMN "share_police_hanbin"."compound"."source_record_id" IS $c$The agency's own identifier of this record. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police_hanbin"."compound"."name" IS $c$Compound name. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police_hanbin"."compound"."division_code" IS $c$Division of the community/village it belongs to (12 digits where known). [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police_hanbin"."compound"."address" IS $c$Address. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police_hanbin"."compound"."household_count" IS $c$Number of households. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police_hanbin"."compound"."safety_status" IS $c$Safe-compound assessment. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police_hanbin"."compound"."has_property_management" IS $c$Managed by a property company. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police_hanbin"."compound"."assessed_date" IS $c$Date of the last assessment. [pii: none; mask: full]$c$;
