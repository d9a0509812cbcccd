CREATE VIEW "share_police"."case" WITH (security_barrier = true) AS
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
FROM core."case" AS t;

COMMENT ON VIEW "share_police"."case" IS $c$A police incident or case (警情/案件). — shared with police (安康市公安局) for: 治安管理与刑事案件侦查（人民警察法第六条） [exchange-grant police sha256:d012ca16b05b86ce]$c$;

COMMENT ON COLUMN "share_police"."case"."source_record_id" IS $c$The agency's own identifier of this record. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."case"."case_number" IS $c$Case number (案件编号). [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."case"."case_type" IS $c$Kind of case. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."case"."title" IS $c$Short description (案由). [pii: sensitive; mask: full]$c$;

COMMENT ON COLUMN "share_police"."case"."occurred_at" IS $c$When it happened. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."case"."reported_date" IS $c$Date reported. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."case"."division_code" IS $c$Administrative division where it happened. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."case"."address" IS $c$Place of occurrence. [pii: quasi_identifier; mask: full]$c$;

COMMENT ON COLUMN "share_police"."case"."status" IS $c$Handling status. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."case"."handling_unit" IS $c$Police station or unit handling it. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."case"."offence" IS $c$Offence or incident kind (案别): what serial-case linking compares first. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."case"."mo_entry" IS $c$Modus operandi: how the offender got in or got hold of the target (作案手段/侵入方式). [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."case"."mo_target" IS $c$Modus operandi: what was taken or attacked (侵害目标). [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."case"."mo_tools" IS $c$Modus operandi: tools used or left (作案工具), several separated by 、 [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."case"."vehicle_plate" IS $c$Plate of a vehicle seen with the offence (涉案车辆), if any. [pii: quasi_identifier; mask: full]$c$;

COMMENT ON COLUMN "share_police"."case"."longitude" IS $c$Longitude of the place of occurrence (WGS 84 / GCJ-02 as the source records it), if known. [pii: quasi_identifier; mask: full]$c$;

COMMENT ON COLUMN "share_police"."case"."latitude" IS $c$Latitude of the place of occurrence, if known. [pii: quasi_identifier; mask: full]$c$;

CREATE VIEW "share_police"."case_party" WITH (security_barrier = true) AS
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
FROM core."case_party" AS t;

COMMENT ON VIEW "share_police"."case_party" IS $c$A person's part in a police case (涉案人员), with role. — shared with police (安康市公安局) for: 治安管理与刑事案件侦查（人民警察法第六条） [exchange-grant police sha256:31a3a8fb27e71b01]$c$;

COMMENT ON COLUMN "share_police"."case_party"."source_record_id" IS $c$The agency's own identifier of this record. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."case_party"."case_number" IS $c$Case number. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."case_party"."role" IS $c$Role in the case. [pii: sensitive; mask: full]$c$;

COMMENT ON COLUMN "share_police"."case_party"."id_number" IS $c$Resident identity number of the party. [pii: direct_identifier; mask: full]$c$;

COMMENT ON COLUMN "share_police"."case_party"."name" IS $c$Name. [pii: direct_identifier; mask: full]$c$;

COMMENT ON COLUMN "share_police"."case_party"."gender" IS $c$Gender code. [pii: quasi_identifier; mask: full]$c$;

COMMENT ON COLUMN "share_police"."case_party"."phone" IS $c$Contact number. [pii: direct_identifier; mask: full]$c$;

CREATE VIEW "share_police"."checkpoint_pass" WITH (security_barrier = true) AS
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
FROM core."checkpoint_pass" AS t;

COMMENT ON VIEW "share_police"."checkpoint_pass" IS $c$A vehicle seen by a road checkpoint camera (卡口过车): which plate, where, when, which way. An activity event of an object (the vehicle); the register links the plate to its owner. — shared with police (安康市公安局) for: 治安管理与刑事案件侦查（人民警察法第六条） [exchange-grant police sha256:b93299774f7b6664]$c$;

COMMENT ON COLUMN "share_police"."checkpoint_pass"."source_record_id" IS $c$The pass record's own identifier. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."checkpoint_pass"."plate" IS $c$Plate number as read (normalised: 陕A·12345 → 陕A12345). [pii: quasi_identifier; mask: full]$c$;

COMMENT ON COLUMN "share_police"."checkpoint_pass"."checkpoint_code" IS $c$Checkpoint code. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."checkpoint_pass"."checkpoint_name" IS $c$Checkpoint name (road and crossing). [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."checkpoint_pass"."direction" IS $c$Direction of travel. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."checkpoint_pass"."passed_at" IS $c$Time the camera saw the vehicle. [pii: quasi_identifier; mask: full]$c$;

COMMENT ON COLUMN "share_police"."checkpoint_pass"."speed_kmh" IS $c$Measured speed in km/h. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."checkpoint_pass"."division_code" IS $c$Division of the place: 12 digits (community/village) where known, else 9 (town) or 6 (county). [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."checkpoint_pass"."longitude" IS $c$Longitude of the place (WGS 84 / GCJ-02 as the source records it), if known. [pii: quasi_identifier; mask: full]$c$;

COMMENT ON COLUMN "share_police"."checkpoint_pass"."latitude" IS $c$Latitude of the place, if known. [pii: quasi_identifier; mask: full]$c$;

CREATE VIEW "share_police"."compound" WITH (security_barrier = true) AS
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
FROM core."compound" AS t;

COMMENT ON VIEW "share_police"."compound" IS $c$A residential compound (小区), the fifth level below the community/village. — shared with police (安康市公安局) for: 治安管理与刑事案件侦查（人民警察法第六条） [exchange-grant police sha256:6e368f217533c237]$c$;

COMMENT ON COLUMN "share_police"."compound"."source_record_id" IS $c$The agency's own identifier of this record. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."compound"."name" IS $c$Compound name. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."compound"."division_code" IS $c$Division of the community/village it belongs to (12 digits where known). [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."compound"."address" IS $c$Address. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."compound"."household_count" IS $c$Number of households. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."compound"."safety_status" IS $c$Safe-compound assessment. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."compound"."has_property_management" IS $c$Managed by a property company. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."compound"."assessed_date" IS $c$Date of the last assessment. [pii: none; mask: full]$c$;

CREATE VIEW "share_police"."compound_access" WITH (security_barrier = true) AS
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
FROM core."compound_access" AS t;

COMMENT ON VIEW "share_police"."compound_access" IS $c$A pass through a residential compound's gate (小区门禁): by card or by resident ID number, in or out. An activity event at the fifth level (the compound). — shared with police (安康市公安局) for: 治安管理与刑事案件侦查（人民警察法第六条） [exchange-grant police sha256:6eac011eeb1327c7]$c$;

COMMENT ON COLUMN "share_police"."compound_access"."source_record_id" IS $c$The access record's own identifier. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."compound_access"."compound_code" IS $c$The compound's identifier (its record in compound). [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."compound_access"."gate" IS $c$Gate name or number. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."compound_access"."card_number" IS $c$Access card, if a card was used. [pii: quasi_identifier; mask: full]$c$;

COMMENT ON COLUMN "share_police"."compound_access"."id_number" IS $c$Resident identity number, where the gate reads ID cards or faces. [pii: direct_identifier; mask: full]$c$;

COMMENT ON COLUMN "share_police"."compound_access"."person_name" IS $c$Name, where the gate knows it. [pii: direct_identifier; mask: full]$c$;

COMMENT ON COLUMN "share_police"."compound_access"."direction" IS $c$In or out. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."compound_access"."passed_at" IS $c$Time of the pass. [pii: quasi_identifier; mask: full]$c$;

COMMENT ON COLUMN "share_police"."compound_access"."division_code" IS $c$Division of the place: 12 digits (community/village) where known, else 9 (town) or 6 (county). [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."compound_access"."longitude" IS $c$Longitude of the place (WGS 84 / GCJ-02 as the source records it), if known. [pii: quasi_identifier; mask: full]$c$;

COMMENT ON COLUMN "share_police"."compound_access"."latitude" IS $c$Latitude of the place, if known. [pii: quasi_identifier; mask: full]$c$;

CREATE VIEW "share_police"."dispute" WITH (security_barrier = true) AS
SELECT t."source_agency",
       t."source_record_id",
       t."dispute_number",
       t."category",
       t."status",
       t."accepted_date",
       t."closed_date",
       'ps_' || left(encode("public".hmac(convert_to(t."applicant_id_number", 'UTF8'), (SELECT k.key FROM share_fn.pseudonym_key AS k WHERE k.consumer = 'police'), 'sha256'), 'hex'), 32) AS "applicant_id_number",
       'ps_' || left(encode("public".hmac(convert_to(t."respondent_id_number", 'UTF8'), (SELECT k.key FROM share_fn.pseudonym_key AS k WHERE k.consumer = 'police'), 'sha256'), 'hex'), 32) AS "respondent_id_number",
       t."division_code",
       t."_batch_id",
       t."_loaded_at"
FROM core."dispute" AS t;

COMMENT ON VIEW "share_police"."dispute" IS $c$A mediation case of the dispute mediation centre (矛盾纠纷调解), received at one of its intake windows; status runs accepted → mediating → resolved → judicially confirmed. — shared with police (安康市公安局) for: 治安管理与刑事案件侦查（人民警察法第六条） [exchange-grant police sha256:5d7a2f6750b84cab]$c$;

COMMENT ON COLUMN "share_police"."dispute"."source_record_id" IS $c$The agency's own identifier of this record. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."dispute"."dispute_number" IS $c$Registration number. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."dispute"."category" IS $c$Intake window (dispute category). [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."dispute"."status" IS $c$Current status. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."dispute"."accepted_date" IS $c$Date accepted. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."dispute"."closed_date" IS $c$Date resolved or closed. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."dispute"."applicant_id_number" IS $c$Resident identity number of the applicant. [pii: direct_identifier; mask: pseudonym]$c$;

COMMENT ON COLUMN "share_police"."dispute"."respondent_id_number" IS $c$Resident identity number of the respondent, if a person. [pii: direct_identifier; mask: pseudonym]$c$;

COMMENT ON COLUMN "share_police"."dispute"."division_code" IS $c$Where the dispute arose. [pii: none; mask: full]$c$;

CREATE VIEW "share_police"."dispute_step" WITH (security_barrier = true) AS
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
FROM core."dispute_step" AS t;

COMMENT ON VIEW "share_police"."dispute_step" IS $c$One step of a dispute through the mediation centre (调解流程节点): intake at one of its 13 windows, assignment to the responsible unit, mediation, and either an agreement (then judicial confirmation, or closed) or the hand-back of a difficult case to its unit. The centre's platform exports every status change; the queue of each window and its overdue cases are read from these rows. — shared with police (安康市公安局) for: 治安管理与刑事案件侦查（人民警察法第六条） [exchange-grant police sha256:b15b28566dca4b2c]$c$;

COMMENT ON COLUMN "share_police"."dispute_step"."source_record_id" IS $c$The platform's identifier of this status change. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."dispute_step"."dispute_number" IS $c$Registration number of the dispute (矛盾纠纷 dispute_number). [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."dispute_step"."step" IS $c$The step reached. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."dispute_step"."at" IS $c$When it was reached. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."dispute_step"."window" IS $c$The intake window (dispute category) the dispute came in at. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."dispute_step"."unit" IS $c$The responsible unit it is assigned or handed back to. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."dispute_step"."division_code" IS $c$Where the dispute arose (the jurisdiction that reads it). [pii: none; mask: full]$c$;

CREATE VIEW "share_police"."hotel_stay" WITH (security_barrier = true) AS
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
FROM core."hotel_stay" AS t;

COMMENT ON VIEW "share_police"."hotel_stay" IS $c$A guest's stay as the hotel registers it (旅馆住宿登记): who, which hotel and room, check-in and check-out. An activity event (POLE: person, location, event). — shared with police (安康市公安局) for: 治安管理与刑事案件侦查（人民警察法第六条） [exchange-grant police sha256:32cf8ab22def6bf6]$c$;

COMMENT ON COLUMN "share_police"."hotel_stay"."source_record_id" IS $c$The registration's own identifier in the hotel system. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."hotel_stay"."guest_id_number" IS $c$Resident identity number of the guest. [pii: direct_identifier; mask: full]$c$;

COMMENT ON COLUMN "share_police"."hotel_stay"."guest_name" IS $c$Guest's name. [pii: direct_identifier; mask: full]$c$;

COMMENT ON COLUMN "share_police"."hotel_stay"."hotel_code" IS $c$The hotel's code in the public-security hotel system (旅馆编码). [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."hotel_stay"."hotel_name" IS $c$Hotel name. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."hotel_stay"."room" IS $c$Room number. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."hotel_stay"."check_in" IS $c$Check-in time. [pii: quasi_identifier; mask: full]$c$;

COMMENT ON COLUMN "share_police"."hotel_stay"."check_out" IS $c$Check-out time, once left. [pii: quasi_identifier; mask: full]$c$;

COMMENT ON COLUMN "share_police"."hotel_stay"."division_code" IS $c$Division of the place: 12 digits (community/village) where known, else 9 (town) or 6 (county). [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."hotel_stay"."longitude" IS $c$Longitude of the place (WGS 84 / GCJ-02 as the source records it), if known. [pii: quasi_identifier; mask: full]$c$;

COMMENT ON COLUMN "share_police"."hotel_stay"."latitude" IS $c$Latitude of the place, if known. [pii: quasi_identifier; mask: full]$c$;

CREATE VIEW "share_police"."household" WITH (security_barrier = true) AS
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
FROM core."household" AS t;

COMMENT ON VIEW "share_police"."household" IS $c$A registered household (户), as kept by civil affairs or the household registration office. — shared with police (安康市公安局) for: 治安管理与刑事案件侦查（人民警察法第六条） [exchange-grant police sha256:f83fc3d2cdb46221]$c$;

COMMENT ON COLUMN "share_police"."household"."source_record_id" IS $c$The agency's own identifier of this record. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."household"."household_number" IS $c$Household registration number (户号). [pii: quasi_identifier; mask: full]$c$;

COMMENT ON COLUMN "share_police"."household"."household_type" IS $c$户别. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."household"."head_id_number" IS $c$Resident identity number of the head of household. [pii: direct_identifier; mask: full]$c$;

COMMENT ON COLUMN "share_police"."household"."head_name" IS $c$Name of the head of household. [pii: direct_identifier; mask: full]$c$;

COMMENT ON COLUMN "share_police"."household"."address" IS $c$Registered address. [pii: quasi_identifier; mask: full]$c$;

COMMENT ON COLUMN "share_police"."household"."division_code" IS $c$Administrative division of the address. [pii: quasi_identifier; mask: full]$c$;

COMMENT ON COLUMN "share_police"."household"."member_count" IS $c$Number of registered members. [pii: none; mask: full]$c$;

CREATE VIEW "share_police"."internet_session" WITH (security_barrier = true) AS
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
FROM core."internet_session" AS t;

COMMENT ON VIEW "share_police"."internet_session" IS $c$A session at an internet café (网吧上网): who sat where and when. An activity event. — shared with police (安康市公安局) for: 治安管理与刑事案件侦查（人民警察法第六条） [exchange-grant police sha256:5a349cb1cb0e9486]$c$;

COMMENT ON COLUMN "share_police"."internet_session"."source_record_id" IS $c$The session's own identifier in the venue's real-name system. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."internet_session"."user_id_number" IS $c$Resident identity number shown at sign-in. [pii: direct_identifier; mask: full]$c$;

COMMENT ON COLUMN "share_police"."internet_session"."user_name" IS $c$Name shown at sign-in. [pii: direct_identifier; mask: full]$c$;

COMMENT ON COLUMN "share_police"."internet_session"."venue_code" IS $c$The venue's licence code. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."internet_session"."venue_name" IS $c$Venue name. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."internet_session"."seat" IS $c$Seat or terminal number. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."internet_session"."start_time" IS $c$Sign-in time. [pii: quasi_identifier; mask: full]$c$;

COMMENT ON COLUMN "share_police"."internet_session"."end_time" IS $c$Sign-out time. [pii: quasi_identifier; mask: full]$c$;

COMMENT ON COLUMN "share_police"."internet_session"."division_code" IS $c$Division of the place: 12 digits (community/village) where known, else 9 (town) or 6 (county). [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."internet_session"."longitude" IS $c$Longitude of the place (WGS 84 / GCJ-02 as the source records it), if known. [pii: quasi_identifier; mask: full]$c$;

COMMENT ON COLUMN "share_police"."internet_session"."latitude" IS $c$Latitude of the place, if known. [pii: quasi_identifier; mask: full]$c$;

CREATE VIEW "share_police"."organization" WITH (security_barrier = true) AS
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
FROM core."organization" AS t;

COMMENT ON VIEW "share_police"."organization" IS $c$A registered organization (enterprise, social organization, institution) by its unified social credit code. — shared with police (安康市公安局) for: 治安管理与刑事案件侦查（人民警察法第六条） [exchange-grant police sha256:df1ef600bac5440a]$c$;

COMMENT ON COLUMN "share_police"."organization"."source_record_id" IS $c$The agency's own identifier of this record. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."organization"."credit_code" IS $c$Unified social credit code (GB 32100). [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."organization"."name" IS $c$Registered name. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."organization"."legal_representative" IS $c$Name of the legal representative. [pii: direct_identifier; mask: full]$c$;

COMMENT ON COLUMN "share_police"."organization"."legal_rep_id_number" IS $c$Resident identity number of the legal representative. [pii: direct_identifier; mask: full]$c$;

COMMENT ON COLUMN "share_police"."organization"."registered_address" IS $c$Registered address. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."organization"."division_code" IS $c$Administrative division of the registered address. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."organization"."established_date" IS $c$Date of establishment. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."organization"."status" IS $c$Registration status. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."organization"."industry" IS $c$Industry classification (GB/T 4754). [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."organization"."registered_capital" IS $c$Registered capital in 10,000 CNY. [pii: none; mask: full]$c$;

CREATE VIEW "share_police"."person" WITH (security_barrier = true) AS
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
FROM core."person" AS t;

COMMENT ON VIEW "share_police"."person" IS $c$A resident as recorded by one agency (户籍人口, 服务对象, 当事人). The master person index links records of the same real person across agencies. — shared with police (安康市公安局) for: 治安管理与刑事案件侦查（人民警察法第六条） [exchange-grant police sha256:9c9d48ceef26fb1c]$c$;

COMMENT ON COLUMN "share_police"."person"."source_record_id" IS $c$The agency's own identifier of this record. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."person"."id_number" IS $c$18-digit resident identity number (GB 11643); may be missing. [pii: direct_identifier; mask: full]$c$;

COMMENT ON COLUMN "share_police"."person"."name" IS $c$Full name as registered. [pii: direct_identifier; mask: full]$c$;

COMMENT ON COLUMN "share_police"."person"."gender" IS $c$Gender code. [pii: quasi_identifier; mask: full]$c$;

COMMENT ON COLUMN "share_police"."person"."birth_date" IS $c$Date of birth. [pii: quasi_identifier; mask: full]$c$;

COMMENT ON COLUMN "share_police"."person"."ethnicity" IS $c$Ethnic group (民族). [pii: sensitive; mask: full]$c$;

COMMENT ON COLUMN "share_police"."person"."phone" IS $c$Mobile or landline number. [pii: direct_identifier; mask: full]$c$;

COMMENT ON COLUMN "share_police"."person"."address" IS $c$Residential address. [pii: quasi_identifier; mask: full]$c$;

COMMENT ON COLUMN "share_police"."person"."division_code" IS $c$Administrative division of the address (6, 9 or 12 digits, GB/T 2260 prefix). [pii: quasi_identifier; mask: full]$c$;

COMMENT ON COLUMN "share_police"."person"."household_number" IS $c$Household registration number (户号) the person belongs to, if known. [pii: quasi_identifier; mask: full]$c$;

CREATE MATERIALIZED VIEW "share_police"."special_population" AS
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
FROM core."special_population" AS t
WHERE t."programme" IN ('community_correction', 'drug_rehabilitation', 'released_prisoner')
WITH DATA;

CREATE UNIQUE INDEX "special_population__key" ON "share_police"."special_population" (source_agency, source_record_id);

COMMENT ON MATERIALIZED VIEW "share_police"."special_population" IS $c$A person under a special population programme (community correction, drug rehabilitation, severe mental disorder, released prisoners, left-behind children, HIV care). Highly sensitive: shared only under an explicit grant. — shared with police (安康市公安局) for: 治安管理与刑事案件侦查（人民警察法第六条） [exchange-grant police sha256:f614a892d5c52716]$c$;

COMMENT ON COLUMN "share_police"."special_population"."source_record_id" IS $c$The agency's own identifier of this record. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."special_population"."id_number" IS $c$Resident identity number. [pii: direct_identifier; mask: full]$c$;

COMMENT ON COLUMN "share_police"."special_population"."name" IS $c$Name. [pii: direct_identifier; mask: full]$c$;

COMMENT ON COLUMN "share_police"."special_population"."gender" IS $c$Gender code. [pii: quasi_identifier; mask: full]$c$;

COMMENT ON COLUMN "share_police"."special_population"."programme" IS $c$Programme the person is managed under. [pii: sensitive; mask: full]$c$;

COMMENT ON COLUMN "share_police"."special_population"."managing_unit" IS $c$Unit responsible (judicial office, community health centre...). [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."special_population"."risk_level" IS $c$Assessed risk level. [pii: sensitive; mask: full]$c$;

COMMENT ON COLUMN "share_police"."special_population"."start_date" IS $c$Start of management. [pii: sensitive; mask: full]$c$;

COMMENT ON COLUMN "share_police"."special_population"."end_date" IS $c$Planned or actual end. [pii: sensitive; mask: full]$c$;

COMMENT ON COLUMN "share_police"."special_population"."division_code" IS $c$Division of residence. [pii: quasi_identifier; mask: full]$c$;

CREATE VIEW "share_police"."vehicle" WITH (security_barrier = true) AS
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
FROM core."vehicle" AS t;

COMMENT ON VIEW "share_police"."vehicle" IS $c$A motor vehicle in the register (机动车登记): its plate and its owner — a person (by resident ID number) or an organization (by unified social credit code). Checkpoint passes name plates; the register links them to persons. — shared with police (安康市公安局) for: 治安管理与刑事案件侦查（人民警察法第六条） [exchange-grant police sha256:334d4f28576e81b0]$c$;

COMMENT ON COLUMN "share_police"."vehicle"."source_record_id" IS $c$The agency's own identifier of this registration. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."vehicle"."plate" IS $c$Plate number (GA 36): ordinary 7 characters or new-energy 8, e.g. 陕A12345, 陕AD12345. [pii: quasi_identifier; mask: full]$c$;

COMMENT ON COLUMN "share_police"."vehicle"."vehicle_use" IS $c$Use of the vehicle (使用性质). [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."vehicle"."brand" IS $c$Make and model as registered. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."vehicle"."color" IS $c$Body colour as registered. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."vehicle"."owner_name" IS $c$Registered owner: a person's or an organization's name. [pii: direct_identifier; mask: full]$c$;

COMMENT ON COLUMN "share_police"."vehicle"."owner_id_number" IS $c$Resident identity number of an owner who is a person. [pii: direct_identifier; mask: full]$c$;

COMMENT ON COLUMN "share_police"."vehicle"."owner_credit_code" IS $c$Unified social credit code of an owner that is an organization. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."vehicle"."owner_phone" IS $c$Owner's contact number. [pii: direct_identifier; mask: full]$c$;

COMMENT ON COLUMN "share_police"."vehicle"."division_code" IS $c$Administrative division where the vehicle is registered. [pii: none; mask: full]$c$;

COMMENT ON COLUMN "share_police"."vehicle"."registered_date" IS $c$Date of first registration. [pii: none; mask: full]$c$;
