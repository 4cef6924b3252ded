"""Protocol rules: reading classification, alerts and clinician dose-review suggestions."""
