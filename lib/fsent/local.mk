# lib/fsent
