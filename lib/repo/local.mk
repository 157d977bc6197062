# lib/repo
lib_libbwcore_a_SOURCES += %reldir%/tree.c %reldir%/tree.h
lib_libbwcore_a_SOURCES += %reldir%/walk.c %reldir%/walk.h
