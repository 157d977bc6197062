# lib/audit
