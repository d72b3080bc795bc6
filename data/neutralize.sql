-- A neutralized copy never polls a partner with production credentials
UPDATE shipment_connector
   SET poll_enabled = false,
       api_key_cipher = NULL,
       api_key_set_at = NULL;

-- and no partner can reach it: webhook URLs and secrets of production are gone
-- (an administrator regenerates them on the copy when testing a partner)
UPDATE shipment_connector
   SET webhook_token = NULL,
       webhook_secret_cipher = NULL,
       webhook_secret_set_at = NULL,
       webhook_previous_secret_cipher = NULL,
       webhook_previous_secret_expires_at = NULL;

-- nor is the copy scraped with the production monitoring token
DELETE FROM ir_config_parameter
 WHERE key = 'shipment_visibility.metrics_token_sha256';

-- customers hear nothing from a copy
UPDATE res_company
   SET shipment_notify_customers = false,
       shipment_notify_eta_customer = false;

-- outgoing deliveries stop at their subscriptions, once the fan-out is installed
DO $$
BEGIN
    IF to_regclass('shipment_subscription') IS NOT NULL THEN
        IF EXISTS (SELECT 1 FROM information_schema.columns
                    WHERE table_name = 'shipment_subscription' AND column_name = 'active') THEN
            EXECUTE 'UPDATE shipment_subscription SET active = false';
        END IF;
        IF EXISTS (SELECT 1 FROM information_schema.columns
                    WHERE table_name = 'shipment_subscription' AND column_name = 'enabled') THEN
            EXECUTE 'UPDATE shipment_subscription SET enabled = false';
        END IF;
    END IF;
END
$$;
