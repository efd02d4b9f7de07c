"""Quality checks on reviewers: golden items (claims with a known answer, served among live
ones), blind re-review of a sample of live decisions, and the agreement and accuracy figures
read from both. None of it moves a claim, the ledger, a dispute or a webhook, except a senior's
ruling that overturns a live decision through the ordinary overturn."""
