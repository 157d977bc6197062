# lib/repo: the repository (format in docs/FORMAT.md)
lib_libbwcore_a_SOURCES += \
	%reldir%/repo.h %reldir%/repo_internal.h \
	%reldir%/idset.c %reldir%/idset.h \
	%reldir%/repo.c %reldir%/keys.c \
	%reldir%/blob.c %reldir%/pack.c %reldir%/idx.c \
	%reldir%/writer.c %reldir%/snap.c \
	%reldir%/lock.c %reldir%/check.c %reldir%/prune.c
lib_libbwcore_a_SOURCES += %reldir%/tree.c %reldir%/tree.h
lib_libbwcore_a_SOURCES += %reldir%/walk.c %reldir%/walk.h

check_PROGRAMS += tests/unit/test_idset
TESTS += tests/unit/test_idset
tests_unit_test_idset_SOURCES = tests/unit/test_idset.c
tests_unit_test_idset_CFLAGS = $(BW_TEST_CFLAGS)
tests_unit_test_idset_LDADD = lib/libbwcore.a $(BW_CORE_LIBS) $(CHECK_LIBS)

check_PROGRAMS += tests/unit/test_repo
TESTS += tests/unit/test_repo
tests_unit_test_repo_SOURCES = tests/unit/test_repo.c tests/unit/repo_testutil.h
tests_unit_test_repo_CFLAGS = $(BW_TEST_CFLAGS)
tests_unit_test_repo_LDADD = lib/libbwcore.a $(BW_CORE_LIBS) $(CHECK_LIBS)
