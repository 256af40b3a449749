"""Stage 2, the machine: what this computer has, the profiles fitted to it, and a new process's start-up cost."""
