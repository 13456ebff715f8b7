// implementation lands with the memory module
