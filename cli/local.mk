# cli/: the bulwark operator command
bin_PROGRAMS += cli/bulwark
cli_bulwark_SOURCES = cli/main.c cli/cli.h cli/common.c \
	cli/cmd_init.c cli/cmd_backup.c cli/cmd_snapshots.c cli/cmd_check.c \
	cli/cmd_forget.c cli/cmd_prune.c cli/cmd_stats.c cli/cmd_key.c \
	cli/cmd_audit.c cli/cmd_config.c
cli_bulwark_SOURCES += cli/cmd_failover.c
cli_bulwark_SOURCES += cli/cmd_status.c
cli_bulwark_LDADD = backupd/libbwbackup.a failover/libbwfailover.a \
	config/libbwconfig.a lib/libbwcore.a $(BW_CORE_LIBS)
