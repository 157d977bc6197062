# cli/: the bulwark operator command
bin_PROGRAMS += cli/bulwark
cli_bulwark_SOURCES = cli/main.c cli/cli.h cli/common.c \
	cli/cmd_init.c cli/cmd_backup.c cli/cmd_snapshots.c cli/cmd_check.c \
	cli/cmd_forget.c cli/cmd_prune.c cli/cmd_stats.c cli/cmd_key.c \
	cli/cmd_audit.c cli/cmd_config.c \
	cli/cmd_ls.c cli/cmd_find.c cli/cmd_diff.c cli/cmd_restore.c
cli_bulwark_SOURCES += cli/cmd_failover.c
cli_bulwark_SOURCES += cli/cmd_status.c
cli_bulwark_LDADD = restore/libbwrestore.a backupd/libbwbackup.a failover/libbwfailover.a \
	config/libbwconfig.a lib/libbwcore.a $(BW_CORE_LIBS)

# The restore wizard: its logic (cli/wiz.c) is tested apart from the terminal.
cli_bulwark_SOURCES += cli/wiz.c cli/wiz.h cli/wizard.c
check_PROGRAMS += tests/unit/test_wizard
TESTS += tests/unit/test_wizard
tests_unit_test_wizard_SOURCES = tests/unit/test_wizard.c cli/wiz.c cli/wiz.h
tests_unit_test_wizard_CFLAGS = $(BW_TEST_CFLAGS)
tests_unit_test_wizard_LDADD = lib/libbwcore.a $(BW_CORE_LIBS) $(CHECK_LIBS)
