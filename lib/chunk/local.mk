# lib/chunk
