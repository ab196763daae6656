-- The simulated clock shared by every onshi process. One row. Simulated time is JST wall-clock time.
-- now = sim_base                                   when frozen
--     = sim_base + (real time - real_base_ms)      when running
CREATE TABLE clock.state (
    id            smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    sim_base      timestamp   NOT NULL,
    real_base_ms  bigint      NOT NULL,
    frozen        boolean     NOT NULL DEFAULT false,
    changed_at    timestamptz NOT NULL DEFAULT now()
);
INSERT INTO clock.state (sim_base, real_base_ms, frozen)
VALUES ((now() AT TIME ZONE 'Asia/Tokyo')::timestamp(0), (extract(epoch FROM now()) * 1000)::bigint, false);
