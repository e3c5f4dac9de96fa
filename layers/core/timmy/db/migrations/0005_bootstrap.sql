-- Bootstrap: pay one invoice, get a Bitcoin full node on DigitalOcean. The row is the source of
-- truth for the provisioning workflow (BootstrapStateMachine): each step records what it
-- created, so a retried step finds its earlier work and a failed run knows what to clean up.
-- The SSH private key is never stored here: it lives in Secrets Manager until delivered once.

CREATE TABLE bootstrap_jobs (
    id                    uuid PRIMARY KEY,
    state                 text NOT NULL DEFAULT 'awaiting_payment'
                          CHECK (state IN ('awaiting_payment', 'provisioning', 'ready', 'failed')),
    -- The step the workflow is on, for the progress message.
    progress              text NOT NULL DEFAULT 'awaiting_payment',
    amount_sats           bigint NOT NULL CHECK (amount_sats > 0),
    payment_hash          text NOT NULL UNIQUE REFERENCES invoices (payment_hash),
    execution_arn         text,
    -- What the workflow created (NULL until created).
    ssh_secret_name       text,
    ssh_public_key        text,
    ssh_fingerprint       text,
    do_ssh_key_id         bigint,
    tailscale_enabled     boolean,
    -- Set just before asking for the droplet: from then on a droplet may exist (look it up by
    -- its tag) even if droplet_id is still NULL because the answer was lost.
    droplet_requested_at  timestamptz,
    droplet_id            bigint,
    droplet_name          text,
    ip_polls              integer NOT NULL DEFAULT 0 CHECK (ip_polls >= 0),
    -- The result.
    node_ip               text,
    tailscale_hostname    text,
    lnbits_url            text,
    -- One-time key delivery: claimed once (conditional UPDATE), then the secret is deleted.
    ssh_key_delivered     boolean NOT NULL DEFAULT false,
    ssh_key_delivered_at  timestamptz,
    ssh_secret_deleted_at timestamptz,
    error_message         text,
    cleanup_complete      boolean,
    paid_at               timestamptz,
    ready_at              timestamptz,
    failed_at             timestamptz,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    CHECK (ssh_key_delivered = (ssh_key_delivered_at IS NOT NULL)),
    CHECK (state <> 'ready' OR (node_ip IS NOT NULL AND ready_at IS NOT NULL)),
    CHECK (state <> 'failed' OR (error_message IS NOT NULL AND failed_at IS NOT NULL)),
    CHECK (NOT ssh_key_delivered OR state = 'ready')
);
CREATE INDEX bootstrap_jobs_state_idx ON bootstrap_jobs (state, created_at);
