"""The API's paths, as the server routes them and the bodies link to them."""

REPORT_PATH = "/api/v2/billing/reports/billableusage"
CONCURRENT_PATH = "/api/v2/billing/reports/concurrentusage"
EXPLAIN_PATH = "/api/v2/billing/reports/billableusage/explain"
EVENTS_PATH = "/api/v2/billing/events"
VOIDS_PATH = EVENTS_PATH + "/voids"
PERIODS_PATH = "/api/v2/billing/periods"
ORGANIZATION_PATH = "/api/v2/organizations/me"
