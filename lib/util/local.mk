# lib/util: errors, buffers, logging, durable file I/O
lib_libbwcore_a_SOURCES += \
	%reldir%/err.c %reldir%/err.h \
	%reldir%/buf.c %reldir%/buf.h \
	%reldir%/log.c %reldir%/log.h
