# generic: GCC and OpenBLAS 0.3.29 (Debian 13), OpenMPI. Any x86-64-v3 (AVX2) EC2 instance, Intel or AMD.
# HPL is built from Debian's hpcc source with portable flags (the BLAS dispatches its kernels at
# run time, so HPL loses nothing); STREAM is compiled on the instance with -march=native at first use.
# Build with the driver (python -m instance_benchmarks.images), which pins BASE_DIGEST.
ARG BASE_IMAGE=debian:trixie-slim
ARG BASE_DIGEST

FROM ${BASE_IMAGE}@${BASE_DIGEST} AS build
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
COPY runner/debian-packages.txt /tmp/debian-packages.txt
# Versions come from the pinned base image's Debian release.
# hadolint ignore=DL3008
RUN apt-get update \
    && grep -v -E '^\s*(#|$)' /tmp/debian-packages.txt \
       | xargs apt-get install -y --no-install-recommends python3 ca-certificates dpkg-dev \
    && rm -rf /var/lib/apt/lists/*
# Only what HPL's build reads (build.py and what it imports, the driver's C wrapper): a change to the rest of
# the runner (its Python, profiles) does not recompile HPL; the final stage copies the whole runner.
COPY runner/benchmark_runner/__init__.py runner/benchmark_runner/_log.py runner/benchmark_runner/blas.py \
     runner/benchmark_runner/build.py /opt/benchrun/benchmark_runner/
COPY runner/src/hpl_main.c /opt/benchrun/src/
ARG HPL_ARCH_FLAGS="-march=x86-64-v3"
RUN BENCHRUN_BUILD_DIR=/opt/build BENCHRUN_ARCH_FLAGS="${HPL_ARCH_FLAGS}" python3 -c "\
import sys, shutil; sys.path.insert(0, '/opt/benchrun'); \
from benchmark_runner.build import build_xhpl_from_source as build; built = build(); \
shutil.copy(built['path'], '/opt/xhpl'); print(built)"

FROM ${BASE_IMAGE}@${BASE_DIGEST}
ARG RUNNER_VERSION=unknown
ARG HPL_ARCH_FLAGS="-march=x86-64-v3"
LABEL org.opencontainers.image.title="instance-benchmarks runner (generic)" \
      io.instance-benchmarks.variant="generic" \
      io.instance-benchmarks.compiler="gcc (Debian 13 trixie)" \
      io.instance-benchmarks.blas="OpenBLAS (Debian, DYNAMIC_ARCH)" \
      io.instance-benchmarks.hpl="HPL 2.0 from Debian hpcc_1.5.0 source, ${HPL_ARCH_FLAGS}" \
      io.instance-benchmarks.runner-version="${RUNNER_VERSION}"
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
COPY runner/debian-packages.txt /tmp/debian-packages.txt
# gcc stays: STREAM is compiled on the instance it measures. Versions come from the pinned base.
# hadolint ignore=DL3008
RUN apt-get update \
    && grep -v -E '^\s*(#|$)' /tmp/debian-packages.txt \
       | xargs apt-get install -y --no-install-recommends python3 \
    && rm -rf /var/lib/apt/lists/* /tmp/debian-packages.txt \
    && useradd --create-home --uid 10001 bench
COPY --from=build /opt/xhpl /opt/benchrun-bin/xhpl
COPY runner/ /opt/benchrun/
ENV BENCHRUN_XHPL=/opt/benchrun-bin/xhpl \
    BENCHRUN_BUILD_DIR=/home/bench/.cache/benchrun \
    PATH=/opt/benchrun:$PATH
USER 10001
WORKDIR /home/bench
# numactl --membind needs CAP_SYS_NICE under Docker's default seccomp profile:
# run with --cap-add SYS_NICE, or the document records that NUMA placements were refused.
ENTRYPOINT ["benchrun"]
CMD ["all", "--profile", "quick"]
