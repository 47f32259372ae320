"""Version and the equipment identity written into every SEG and SR."""

__version__ = "0.1.0"
#: General Equipment module values of the files we write.
MANUFACTURER = "MD.ai"
MODEL_NAME = "mdai-fastexport"
