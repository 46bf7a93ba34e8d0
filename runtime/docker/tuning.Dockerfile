# The tuning image: kaito_runtime with torch, transformers, peft and bitsandbytes; runs as a non-root user.
# Build from the repository root:  docker build -f runtime/docker/tuning.Dockerfile -t kaito-tuning .
# The controller's Job runs:  torchrun --nproc_per_node=<GPUs> -m kaito_runtime.tuning  (or `kaito-tuning`)
# with the config at /mnt/config/training_config.yaml, inputs under /mnt/data and the adapter written to
# the output volume. The base model weights are mounted or baked at /workspace/tfs/weights.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    HF_HUB_DISABLE_PROGRESS_BARS=1 \
    TOKENIZERS_PARALLELISM=false \
    HF_HOME=/tmp/hf

WORKDIR /src
COPY constraints.txt /src/constraints.txt
COPY runtime/ /src/runtime/
# PyPI's torch wheel is the CUDA build (it also runs on a CPU); constraints pin the tested versions.
RUN pip install --constraint /src/constraints.txt /src/runtime \
    && rm -rf /src/runtime \
    && useradd --uid 1000 --create-home kaito

USER 1000
WORKDIR /workspace
ENTRYPOINT ["kaito-tuning"]
