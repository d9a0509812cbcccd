CREATE SCHEMA IF NOT EXISTS share_fn;

REVOKE ALL ON SCHEMA share_fn FROM PUBLIC;

CREATE TABLE IF NOT EXISTS share_fn.pseudonym_key (consumer text PRIMARY KEY, key bytea NOT NULL, key_id text NOT NULL);

REVOKE ALL ON TABLE share_fn.pseudonym_key FROM PUBLIC;

COMMENT ON TABLE share_fn.pseudonym_key IS 'Per-consumer HMAC keys of pseudonym masks, derived from EXCHANGE_PSEUDONYM_KEY; readable by the view owner only';

CREATE OR REPLACE FUNCTION share_fn.mask_id(v text) RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $f$ SELECT CASE WHEN char_length(v) = 18 THEN left(v, 6) || repeat('*', 10) || right(v, 2) ELSE left(v, least(3, char_length(v) / 2)) || repeat('*', char_length(v) - least(3, char_length(v) / 2)) END $f$;

CREATE OR REPLACE FUNCTION share_fn.mask_phone(v text) RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $f$ SELECT CASE WHEN v ~ '^1[3-9][0-9]{9}$' THEN left(v, 3) || repeat('*', char_length(v) - 7) || right(v, 4) ELSE repeat('*', char_length(v) - least(4, char_length(v) / 2)) || right(v, least(4, char_length(v) / 2)) END $f$;

CREATE OR REPLACE FUNCTION share_fn.mask_credit_code(v text) RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $f$ SELECT left(v, least(8, char_length(v) / 2)) || repeat('*', char_length(v) - least(8, char_length(v) / 2)) $f$;

CREATE OR REPLACE FUNCTION share_fn.mask_division(v text) RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $f$ SELECT left(v, 6) $f$;

CREATE OR REPLACE FUNCTION share_fn.mask_name(v text) RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $f$ SELECT left(v, 1) || repeat('*', greatest(char_length(v) - 1, 0)) $f$;

CREATE OR REPLACE FUNCTION share_fn.mask_year(v date) RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $f$ SELECT to_char(v, 'YYYY') $f$;
