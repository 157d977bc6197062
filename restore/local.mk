# restore/: the restore engine and the restore wizard
