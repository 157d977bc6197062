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
lib_libbwcore_a_SOURCES += %reldir%/snapsel.c %reldir%/snapsel.h

check_PROGRAMS += tests/unit/test_snapsel
TESTS += tests/unit/test_snapsel
tests_unit_test_snapsel_SOURCES = tests/unit/test_snapsel.c
tests_unit_test_snapsel_CFLAGS = $(BW_TEST_CFLAGS)
tests_unit_test_snapsel_LDADD = lib/libbwcore.a $(BW_CORE_LIBS) $(CHECK_LIBS)

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

check_PROGRAMS += tests/unit/test_tree
TESTS += tests/unit/test_tree
tests_unit_test_tree_SOURCES = tests/unit/test_tree.c
tests_unit_test_tree_CFLAGS = $(BW_TEST_CFLAGS)
tests_unit_test_tree_LDADD = lib/libbwcore.a $(BW_CORE_LIBS) $(CHECK_LIBS)

if FUZZING
noinst_PROGRAMS += tests/fuzz/fuzz_tree
tests_fuzz_fuzz_tree_SOURCES = tests/fuzz/fuzz_tree.c
tests_fuzz_fuzz_tree_LDADD = lib/libbwcore.a $(BW_CORE_LIBS)
tests_fuzz_fuzz_tree_LDFLAGS = -fsanitize=fuzzer,address,undefined
endif

check_PROGRAMS += tests/unit/test_repo_crash
TESTS += tests/unit/test_repo_crash
tests_unit_test_repo_crash_SOURCES = tests/unit/test_repo_crash.c tests/unit/repo_testutil.h
tests_unit_test_repo_crash_CFLAGS = $(BW_TEST_CFLAGS)
tests_unit_test_repo_crash_LDADD = lib/libbwcore.a $(BW_CORE_LIBS) $(CHECK_LIBS)

check_PROGRAMS += tests/unit/test_repo_check
TESTS += tests/unit/test_repo_check
tests_unit_test_repo_check_SOURCES = tests/unit/test_repo_check.c tests/unit/repo_testutil.h
tests_unit_test_repo_check_CFLAGS = $(BW_TEST_CFLAGS)
tests_unit_test_repo_check_LDADD = lib/libbwcore.a $(BW_CORE_LIBS) $(CHECK_LIBS)

if FUZZING
noinst_PROGRAMS += tests/fuzz/fuzz_repo_parse
tests_fuzz_fuzz_repo_parse_SOURCES = tests/fuzz/fuzz_repo_parse.c
tests_fuzz_fuzz_repo_parse_LDADD = lib/libbwcore.a $(BW_CORE_LIBS)
tests_fuzz_fuzz_repo_parse_LDFLAGS = -fsanitize=fuzzer,address,undefined
endif

check_PROGRAMS += tests/unit/test_walk
TESTS += tests/unit/test_walk
tests_unit_test_walk_SOURCES = tests/unit/test_walk.c tests/unit/repo_testutil.h
tests_unit_test_walk_CFLAGS = $(BW_TEST_CFLAGS)
tests_unit_test_walk_LDADD = lib/libbwcore.a $(BW_CORE_LIBS) $(CHECK_LIBS)
