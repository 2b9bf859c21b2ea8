"""The site's own health: runners by their heartbeats, the banners every page shows when Redis
or the runners need an operator, and the probes load balancers ask (docs/operations.md)."""
