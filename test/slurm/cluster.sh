#!/bin/bash
# A single-node Slurm cluster on this machine for test/slurm.test.ts:
#   test/slurm/cluster.sh start   munged, slurmctld and slurmd on localhost (root only), waits until the node is idle
#   test/slurm/cluster.sh stop    stops the daemons this script started
# Debian's slurmctld, slurmd, slurm-client and munge must be installed (.ci/run installs them).
set -euo pipefail
STATE=/tmp/flowc-slurm
case "${1:-}" in
start)
  [ "$(id -u)" = 0 ] || { echo "cluster.sh: starting Slurm needs root" >&2; exit 1; }
  for cmd in munged slurmctld slurmd sbatch sinfo; do command -v $cmd >/dev/null || { echo "cluster.sh: $cmd is missing (apt-get install slurmctld slurmd slurm-client munge)" >&2; exit 1; }; done
  if sinfo -h -o %T 2>/dev/null | grep -q -E '^(idle|mixed|allocated)'; then exit 0; fi
  mkdir -p $STATE/spool/slurmd $STATE/spool/slurmctld /etc/slurm /run/munge /var/log/munge /var/lib/munge /etc/munge
  chown -R munge:munge /run/munge /var/log/munge /var/lib/munge /etc/munge 2>/dev/null || true
  [ -s /etc/munge/munge.key ] || { dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null; chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key; }
  pgrep -x munged >/dev/null || runuser -u munge -- /usr/sbin/munged --force
  cat > /etc/slurm/slurm.conf <<CONF
ClusterName=flowctest
SlurmctldHost=localhost
AuthType=auth/munge
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmdSpoolDir=$STATE/spool/slurmd
StateSaveLocation=$STATE/spool/slurmctld
SlurmctldLogFile=$STATE/slurmctld.log
SlurmdLogFile=$STATE/slurmd.log
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
  pgrep -x slurmctld >/dev/null || slurmctld -c
  pgrep -x slurmd >/dev/null || slurmd -N localhost
  for i in $(seq 1 60); do
    if sinfo -h -o %T 2>/dev/null | grep -q -E '^(idle|mixed|allocated)'; then touch $STATE/started; exit 0; fi
    sleep 1
  done
  echo "cluster.sh: the node did not come up; logs:" >&2; tail -20 $STATE/slurmctld.log $STATE/slurmd.log >&2 || true
  exit 1
  ;;
stop)
  if [ -e $STATE/started ]; then pkill -x slurmd || true; pkill -x slurmctld || true; rm -f $STATE/started; fi
  ;;
*) echo "usage: cluster.sh start|stop" >&2; exit 2 ;;
esac
