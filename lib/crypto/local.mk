# lib/crypto
