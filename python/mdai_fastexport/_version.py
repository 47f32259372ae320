"""Version and the equipment identity written into every SEG and SR."""

__version__ = "0.2.0"
#: General Equipment module values of the files we write.
MANUFACTURER = "MD.ai"
MODEL_NAME = "mdai-fastexport"
#: File Meta Information: our implementation's identity (PS3.7 D.3.3.2).
IMPLEMENTATION_CLASS_UID = "2.25.310920087791280255217826293394830459121"
IMPLEMENTATION_VERSION_NAME = f"MDAIFX_{__version__}"[:16]
