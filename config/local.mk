# config/: parse and validate bulwark.conf
noinst_LIBRARIES += config/libbwconfig.a
config_libbwconfig_a_SOURCES =
config_libbwconfig_a_CFLAGS = $(AM_CFLAGS) $(INIH_CFLAGS)
