# cli/: the bulwark operator command
bin_PROGRAMS += cli/bulwark
cli_bulwark_SOURCES = cli/main.c
cli_bulwark_LDADD = backupd/libbwbackup.a config/libbwconfig.a lib/libbwcore.a $(BW_CORE_LIBS)
