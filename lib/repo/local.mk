# lib/repo
