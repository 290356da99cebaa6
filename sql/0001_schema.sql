-- tibber-tui schema, version 1.
-- The seed tables (tibber_tokens, homes, prices, consumption, production, real_time_measurements) keep their
-- names; every time column is timestamptz (DST days have 23/25 hours), data tables are unique on
-- (home_id, timestamp) so every write is an idempotent upsert, and every value column is nullable:
-- NULL means "the API gave no value", never 0.
-- The runner creates the schema and tibber.schema_migrations before applying this file.

-- Tokens -------------------------------------------------------------------------------------------------

CREATE TABLE tibber.tibber_tokens (
    id         bigserial PRIMARY KEY,
    token      text NOT NULL UNIQUE,
    label      text,
    active     boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- clock_timestamp(), not now(): two updates in one transaction must still give two row versions, because
-- a collector's "failed" verdict is pinned to the updated_at it saw.
CREATE FUNCTION tibber.touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := clock_timestamp();
    RETURN NEW;
END;
$$;

CREATE TRIGGER tibber_tokens_touch_updated_at
    BEFORE UPDATE ON tibber.tibber_tokens
    FOR EACH ROW EXECUTE FUNCTION tibber.touch_updated_at();

-- The seed design only notified INSERT and UPDATE; a deleted token must stop its collectors too.
CREATE FUNCTION tibber.notify_token_changes() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    row_ tibber.tibber_tokens;
BEGIN
    IF TG_OP = 'DELETE' THEN
        row_ := OLD;
    ELSE
        row_ := NEW;
    END IF;
    PERFORM pg_notify(
        'token_changes',
        json_build_object('action', TG_OP, 'token_id', row_.id, 'active', row_.active)::text
    );
    RETURN NULL;
END;
$$;

CREATE TRIGGER tibber_tokens_notify
    AFTER INSERT OR UPDATE OR DELETE ON tibber.tibber_tokens
    FOR EACH ROW EXECUTE FUNCTION tibber.notify_token_changes();

-- The collector's verdict on a token lives in its own table so that writing it never fires the trigger above.
CREATE TABLE tibber.token_status (
    token_id         bigint PRIMARY KEY REFERENCES tibber.tibber_tokens (id) ON DELETE CASCADE,
    state            text NOT NULL,
    reason           text,
    token_updated_at timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- Homes --------------------------------------------------------------------------------------------------

CREATE TABLE tibber.homes (
    id                  text PRIMARY KEY,  -- the Tibber home id
    nickname            text,
    time_zone           text,
    address1            text,
    postal_code         text,
    city                text,
    country             text,
    latitude            text,
    longitude           text,
    realtime_enabled    boolean,
    has_production      boolean,
    subscription_status text,
    currency            text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);

-- Which token sees which home (a home may be seen by several tokens).
CREATE TABLE tibber.token_homes (
    token_id bigint NOT NULL REFERENCES tibber.tibber_tokens (id) ON DELETE CASCADE,
    home_id  text NOT NULL REFERENCES tibber.homes (id),
    PRIMARY KEY (token_id, home_id)
);
CREATE INDEX token_homes_home_id ON tibber.token_homes (home_id);

-- Data ---------------------------------------------------------------------------------------------------

CREATE TABLE tibber.prices (
    id         bigserial PRIMARY KEY,
    home_id    text NOT NULL REFERENCES tibber.homes (id),
    "timestamp" timestamptz NOT NULL,  -- startsAt
    total      double precision,
    energy     double precision,
    tax        double precision,
    currency   text,
    level      text,
    resolution text,
    fetched_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (home_id, "timestamp")
);

CREATE TABLE tibber.consumption (
    id             bigserial PRIMARY KEY,
    home_id        text NOT NULL REFERENCES tibber.homes (id),
    "timestamp"    timestamptz NOT NULL,  -- from
    to_timestamp   timestamptz,
    consumption    double precision,
    unit           text,
    cost           double precision,
    unit_price     double precision,
    unit_price_vat double precision,
    currency       text,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (home_id, "timestamp")
);

CREATE TABLE tibber.production (
    id             bigserial PRIMARY KEY,
    home_id        text NOT NULL REFERENCES tibber.homes (id),
    "timestamp"    timestamptz NOT NULL,  -- from
    to_timestamp   timestamptz,
    production     double precision,
    unit           text,
    profit         double precision,
    unit_price     double precision,
    unit_price_vat double precision,
    currency       text,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (home_id, "timestamp")
);

-- No foreign key to homes here: live rows arrive at the highest rate and the collector only streams homes it
-- has just upserted; the check would cost throughput for nothing.
CREATE TABLE tibber.real_time_measurements (
    id                                bigserial PRIMARY KEY,
    home_id                           text NOT NULL,
    "timestamp"                       timestamptz NOT NULL,
    power                             double precision,
    power_production                  double precision,
    accumulated_consumption           double precision,
    accumulated_production            double precision,
    accumulated_consumption_last_hour double precision,
    accumulated_production_last_hour  double precision,
    accumulated_cost                  double precision,
    accumulated_reward                double precision,
    currency                          text,
    min_power                         double precision,
    average_power                     double precision,
    max_power                         double precision,
    min_power_production              double precision,
    max_power_production              double precision,
    last_meter_consumption            double precision,
    last_meter_production             double precision,
    power_reactive                    double precision,
    power_production_reactive         double precision,
    power_factor                      double precision,
    voltage_phase1                    double precision,
    voltage_phase2                    double precision,
    voltage_phase3                    double precision,
    current_l1                        double precision,
    current_l2                        double precision,
    current_l3                        double precision,
    signal_strength                   integer,
    UNIQUE (home_id, "timestamp")
);

-- Operational --------------------------------------------------------------------------------------------

CREATE TABLE tibber.instances (
    id           uuid PRIMARY KEY,
    host         text,
    pid          integer,
    mode         text,
    version      text,
    started_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tibber.token_leases (
    token_id   bigint PRIMARY KEY REFERENCES tibber.tibber_tokens (id) ON DELETE CASCADE,
    owner      uuid,
    generation bigint NOT NULL DEFAULT 0,
    expires_at timestamptz
);
CREATE INDEX token_leases_owner ON tibber.token_leases (owner);

CREATE TABLE tibber.loader_status (
    home_id      text NOT NULL,
    loader       text NOT NULL,
    token_id     bigint,
    state        text NOT NULL,
    rows_written bigint NOT NULL DEFAULT 0,
    last_success timestamptz,
    next_run     timestamptz,
    last_error   text,
    owner        text,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (home_id, loader)
);
