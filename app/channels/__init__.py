"""Channel translators: what Shopify, WooCommerce, CSV files and the JSON API send, mapped to capture drafts."""
