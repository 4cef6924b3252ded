"""Study visits: the plan from day 0, materialised visits, their results, versions and audit."""
