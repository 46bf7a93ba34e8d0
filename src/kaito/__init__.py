"""KAITO in Python: the workspace controller, the GPU node provisioner and their shared machinery."""
