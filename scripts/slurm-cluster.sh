#!/usr/bin/env bash
# A real single-node Slurm cluster for tests and demos, on Debian 12, as root.
#
#   scripts/slurm-cluster.sh install   apt-get the Slurm, munge and MariaDB packages (skipped when present)
#   scripts/slurm-cluster.sh start     write the config and start munged, mariadbd, slurmdbd, slurmctld, slurmd
#   scripts/slurm-cluster.sh stop      stop those daemons by their PID files
#   scripts/slurm-cluster.sh status    show the daemons and the node; exit 0 healthy, 3 stopped, 1 otherwise
#   scripts/slurm-cluster.sh up        install + start
#
# Everything this script creates lives under one folder, $SYNTHACT_SLURM_DIR
# (default /var/lib/synthact-slurm): config, databases, spool, PID files and logs.
# Outside it, it only touches /etc/slurm/* (symlinks into that folder, so that
# sbatch & co. work for every user without SLURM_CONF), /run/munge (munge's
# socket, where every Slurm command looks for it), /etc/munge/munge.key (created by
# the munge package) and, when `hostname -s` does not resolve, one /etc/hosts line.
#
# There is no systemd here and package postinst scripts cannot start services, so
# every daemon is started directly, writes a PID file, and is stopped by that PID.
# SLURM-NOTES.md (in the shared notes) records why each setting below is needed.
set -euo pipefail

readonly STATE_DIR="${SYNTHACT_SLURM_DIR:-/var/lib/synthact-slurm}"
readonly CLUSTER_NAME="${SYNTHACT_SLURM_CLUSTER:-synthact}"
# MariaDB listens on loopback only, on a port of its own so that it never collides
# with a MariaDB/MySQL that the machine may already run on 3306.
readonly DB_PORT="${SYNTHACT_SLURM_DB_PORT:-6820}"
readonly GPU_COUNT="${SYNTHACT_SLURM_GPUS:-2}"
# How long to wait for each daemon to become ready.
readonly WAIT_S="${SYNTHACT_SLURM_WAIT_S:-60}"

readonly ETC="$STATE_DIR/etc"
readonly LOG="$STATE_DIR/log"
readonly RUN="$STATE_DIR/run"
readonly SLURM_CONF_FILE="$ETC/slurm.conf"
readonly MARIADB_CNF="$ETC/mariadb.cnf"
readonly DB_PASSWORD_FILE="$ETC/db-password"
readonly MUNGE_KEY=/etc/munge/munge.key
# munge's default socket: Slurm's auth/munge plugin and the munge tools look here.
readonly MUNGE_SOCKET_DIR=/run/munge

readonly PACKAGES=(slurm-wlm slurm-client slurmdbd munge mariadb-server)
# Order matters: each daemon needs the ones before it (stop goes in reverse).
readonly DAEMONS=(munged mariadbd slurmdbd slurmctld slurmd)
# A marker in every file we write, so that we never overwrite a foreign /etc/slurm config.
readonly MARKER="managed by synthact scripts/slurm-cluster.sh"

# Daemons get a clean environment: a cluster started from inside a Slurm job or a
# virtualenv must not leak SLURM_* or PATH tweaks into the daemons.
readonly DAEMON_ENV=(env -i "PATH=/usr/sbin:/usr/bin:/sbin:/bin" "LANG=C.UTF-8" "SLURM_CONF=$SLURM_CONF_FILE")

T0_MS=$(date +%s%3N)
# Names of the config files that this run rewrote (start restarts the daemons that read them).
CHANGED_FILES=()
NODE=""

# ---------------------------------------------------------------- output helpers

# seconds_since MS: seconds since the millisecond timestamp MS, one decimal (no bc needed).
seconds_since() {
    local ms=$(($(date +%s%3N) - $1))
    printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100))
}
elapsed() { printf '%5ss' "$(seconds_since "$T0_MS")"; }
say() { printf '[slurm-cluster %s] %s\n' "$(elapsed)" "$*"; }
warn() { printf '[slurm-cluster %s] WARNING: %s\n' "$(elapsed)" "$*" >&2; }

# die MESSAGE [LOGFILE...]: fail with a clear message and the tail of the logs that explain it.
die() {
    local msg=$1 f
    shift
    printf '[slurm-cluster %s] ERROR: %s\n' "$(elapsed)" "$msg" >&2
    for f in "$@"; do
        if [[ -s $f ]]; then
            printf -- '----- last 30 lines of %s -----\n' "$f" >&2
            tail -n 30 "$f" >&2
            printf -- '-----\n' >&2
        fi
    done
    exit 1
}

need_root() {
    [[ $(id -u) -eq 0 ]] || die "'$1' must run as root (it installs packages and starts system daemons)."
}

# ---------------------------------------------------------------- install

packages_installed() {
    local p status
    for p in "${PACKAGES[@]}"; do
        status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
        [[ $status == "install ok installed" ]] || return 1
    done
}

cmd_install() {
    need_root install
    if packages_installed; then
        say "packages already installed: ${PACKAGES[*]}"
        return 0
    fi
    command -v apt-get >/dev/null || die "apt-get not found: this script needs Debian 12 (bookworm)."
    say "installing ${PACKAGES[*]} (apt-get; takes 15-60 s)"
    local t_start policy_added=0
    t_start=$(date +%s)
    # Forbid postinst scripts from starting the packaged services: they would start a
    # system mariadbd/munged with the distribution's config, beside ours.
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\n# %s: no service starts during install\nexit 101\n' "$MARKER" >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        policy_added=1
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    export DEBIAN_FRONTEND=noninteractive
    # The lock timeout lets a concurrent apt-get (another session) finish instead of failing us.
    local apt_opts=(-o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
    apt-get "${apt_opts[@]}" update -qq >"$TMPDIR_INSTALL/apt-update.log" 2>&1 ||
        die "apt-get update failed" "$TMPDIR_INSTALL/apt-update.log"
    apt-get "${apt_opts[@]}" install -y -qq --no-install-recommends "${PACKAGES[@]}" >"$TMPDIR_INSTALL/apt-install.log" 2>&1 ||
        die "apt-get install failed" "$TMPDIR_INSTALL/apt-install.log"
    if ((policy_added)); then
        rm -f /usr/sbin/policy-rc.d
        trap - EXIT
    fi
    packages_installed || die "packages still missing after apt-get install" "$TMPDIR_INSTALL/apt-install.log"
    say "installed in $(($(date +%s) - t_start)) s: $(dpkg-query -W -f='slurm ${Version}' slurmctld)"
}

# ---------------------------------------------------------------- PID files

pidfile_of() {
    case $1 in
        munged) echo "$RUN/munge/munged.pid" ;;
        mariadbd) echo "$RUN/mysql/mariadbd.pid" ;;
        slurmdbd) echo "$RUN/slurm/slurmdbd.pid" ;;
        slurmctld) echo "$RUN/slurm/slurmctld.pid" ;;
        slurmd) echo "$RUN/slurmd.pid" ;;
    esac
}

logfile_of() { echo "$LOG/$1.log"; }

# pid_of NAME: the PID from NAME's PID file if that process is alive AND is NAME.
# Checking the command name guards against a stale PID file whose PID the kernel
# has since given to some unrelated process, which we must never signal.
pid_of() {
    local f pid comm
    f=$(pidfile_of "$1")
    [[ -r $f ]] || return 1
    read -r pid <"$f" 2>/dev/null || return 1
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
    [[ $comm == "$1" ]] || return 1
    alive "$pid" || return 1
    echo "$pid"
}

running() { pid_of "$1" >/dev/null; }

# alive PID: the process exists and is not a zombie. Our daemons' parent is PID 1,
# which here (a VM's init or a container's) may reap late or never, and a zombie
# keeps its /proc entry.
alive() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ ${stat%% *} != Z ]] && return 0
    # A zombie leader whose other threads still run is still alive.
    local tasks=("/proc/$1/task/"*)
    ((${#tasks[@]} > 1))
}

# ---------------------------------------------------------------- host facts

# Slurm names the node after `hostname -s` and resolves it; without an /etc/hosts
# line slurmd cannot register and the node stays down.
ensure_hostname_resolves() {
    NODE=$(hostname -s)
    if ! getent hosts "$NODE" >/dev/null; then
        say "adding '127.0.0.1 $NODE' to /etc/hosts so that the node name resolves"
        printf '127.0.0.1 %s  # %s\n' "$NODE" "$MARKER" >>/etc/hosts
    fi
}

# node_line: the NodeName= line, from what slurmd itself detects (so that the node
# never registers with fewer sockets/cores/threads than configured and gets drained),
# with RealMemory a bit under the real total for the same reason.
node_line() {
    local detected cpus sockets cores threads boards mem_mib real_mem
    detected=$(slurmd -C 2>/dev/null | head -n 1 || true)
    cpus=$(sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' <<<"$detected")
    boards=$(sed -n 's/.* Boards=\([0-9]*\).*/\1/p' <<<"$detected")
    sockets=$(sed -n 's/.* SocketsPerBoard=\([0-9]*\).*/\1/p' <<<"$detected")
    cores=$(sed -n 's/.* CoresPerSocket=\([0-9]*\).*/\1/p' <<<"$detected")
    threads=$(sed -n 's/.* ThreadsPerCore=\([0-9]*\).*/\1/p' <<<"$detected")
    mem_mib=$(($(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024))
    # 95 %, and at least 256 MiB less: slurmd drains a node whose memory is below RealMemory.
    real_mem=$((mem_mib * 95 / 100))
    ((mem_mib - real_mem >= 256)) || real_mem=$((mem_mib - 256))
    if [[ -z $cpus || -z $sockets || -z $cores || -z $threads ]]; then
        cpus=$(nproc)
        echo "NodeName=$NODE CPUs=$cpus RealMemory=$real_mem Gres=gpu:$GPU_COUNT State=UNKNOWN"
    else
        echo "NodeName=$NODE CPUs=$cpus Boards=${boards:-1} SocketsPerBoard=$sockets CoresPerSocket=$cores ThreadsPerCore=$threads RealMemory=$real_mem Gres=gpu:$GPU_COUNT State=UNKNOWN"
    fi
}

# ---------------------------------------------------------------- config files

# install_file DEST MODE OWNER < content: write only when the content differs, so
# that an unchanged config keeps its mtime and a running cluster is left alone.
install_file() {
    local dest=$1 mode=$2 owner=$3 tmp
    tmp=$(mktemp "$dest.XXXXXX")
    cat >"$tmp"
    if [[ -f $dest ]] && cmp -s "$tmp" "$dest"; then
        rm -f "$tmp"
    else
        CHANGED_FILES+=("${dest##*/}")
        mv -f "$tmp" "$dest"
    fi
    chmod "$mode" "$dest"
    chown "$owner" "$dest"
}

# mkdir_owned DIR OWNER MODE
mkdir_owned() {
    mkdir -p "$1"
    chown "$2" "$1"
    chmod "$3" "$1"
}

make_dirs() {
    id slurm >/dev/null 2>&1 || die "user 'slurm' missing: run '$0 install' first."
    id munge >/dev/null 2>&1 || die "user 'munge' missing: run '$0 install' first."
    id mysql >/dev/null 2>&1 || die "user 'mysql' missing: run '$0 install' first."
    mkdir_owned "$STATE_DIR" root:root 755
    mkdir_owned "$ETC" root:root 755
    # slurmctld and slurmdbd chdir to their log folder and want it writable (for core
    # files); sticky, so that no daemon user can remove another's log.
    mkdir_owned "$LOG" root:slurm 1775
    mkdir_owned "$RUN" root:root 755
    # Each daemon's PID file sits in a folder its own user can write (they drop root
    # before writing it), and munged refuses folders that others can write.
    mkdir_owned "$RUN/munge" munge:munge 755
    mkdir_owned "$RUN/mysql" mysql:mysql 755
    mkdir_owned "$RUN/slurm" slurm:slurm 755
    mkdir_owned "$STATE_DIR/munge" munge:munge 700
    mkdir_owned "$STATE_DIR/mysql" mysql:mysql 750
    mkdir_owned "$STATE_DIR/slurmctld" slurm:slurm 755
    mkdir_owned "$STATE_DIR/slurmd" root:root 755
    mkdir_owned "$STATE_DIR/dev" root:root 755
    mkdir_owned "$MUNGE_SOCKET_DIR" munge:munge 755
    # Log files are created here with the owner of the daemon that writes them.
    local f
    for f in munged:munge mariadbd:mysql slurmdbd:slurm slurmctld:slurm slurmd:root; do
        touch "$LOG/${f%%:*}.log"
        chown "${f#*:}" "$LOG/${f%%:*}.log"
        chmod 640 "$LOG/${f%%:*}.log"
    done
}

# GPU device files. Slurm only needs character devices to hand out; nodes with
# /dev/null's numbers (c 1 3) serve. If mknod is not allowed, fall back to /dev/null
# and /dev/zero, two real character devices.
gpu_files() {
    local i files=() ok=1
    for ((i = 0; i < GPU_COUNT; i++)); do
        local dev="$STATE_DIR/dev/gpu$i"
        if [[ ! -c $dev ]]; then
            rm -f "$dev"
            mknod -m 666 "$dev" c 1 3 2>/dev/null || { ok=0; break; }
        fi
        files+=("$dev")
    done
    if ((ok)); then
        (IFS=,; echo "${files[*]}")
    else
        ((GPU_COUNT <= 2)) || die "mknod is not permitted here and only 2 fallback devices exist; set SYNTHACT_SLURM_GPUS<=2."
        warn "mknod not permitted: using /dev/null and /dev/zero as the GPU device files"
        local fallback=(/dev/null /dev/zero)
        (IFS=,; echo "${fallback[*]:0:GPU_COUNT}")
    fi
}

db_password() {
    if [[ ! -s $DB_PASSWORD_FILE ]]; then
        # Letters and digits only: it is pasted into SQL and slurmdbd.conf unquoted.
        head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' >"$DB_PASSWORD_FILE"
        chmod 600 "$DB_PASSWORD_FILE"
    fi
    cat "$DB_PASSWORD_FILE"
}

write_configs() {
    local node gpus cpus real_mem def_mem password
    node=$(node_line)
    cpus=$(sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' <<<"$node")
    real_mem=$(sed -n 's/.* RealMemory=\([0-9]*\).*/\1/p' <<<"$node")
    # Without DefMemPerCPU, CR_Core_Memory gives every job the whole node's memory
    # and jobs run one at a time.
    def_mem=$((real_mem / cpus))
    gpus=$(gpu_files)
    password=$(db_password)

    install_file "$SLURM_CONF_FILE" 644 root:root <<EOF
# $MARKER: single-node test cluster. Edits are overwritten on the next start.
ClusterName=$CLUSTER_NAME
SlurmctldHost=$NODE
SlurmUser=slurm
SlurmdUser=root
AuthType=auth/munge
CryptoType=crypto/munge
MpiDefault=none
MailProg=/bin/true
SwitchType=switch/none

StateSaveLocation=$STATE_DIR/slurmctld
SlurmdSpoolDir=$STATE_DIR/slurmd
SlurmctldPidFile=$(pidfile_of slurmctld)
SlurmdPidFile=$(pidfile_of slurmd)
SlurmctldLogFile=$(logfile_of slurmctld)
SlurmdLogFile=$(logfile_of slurmd)
SlurmctldDebug=info
SlurmdDebug=info

# No cgroup enforcement: 22.05 has no CgroupPlugin=disabled, so cgroup.conf turns
# every Constrain* off, and processes are tracked through /proc.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity

SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=$def_mem
# Start jobs as soon as they are submitted (about 3 s sooner than the default), and
# look at pending jobs every 2 s (default 60): a job whose begin time has passed,
# e.g. a requeued one, then starts within seconds.
SchedulerParameters=batch_sched_delay=0,sched_interval=2
# A requeued job (time limit, preemption) may start again only cred_expire seconds
# later (default 120); this is also a job step credential's lifetime.
AuthInfo=cred_expire=10
# Keep finished jobs visible to squeue/scontrol for 5 minutes.
MinJobAge=300
ReturnToService=2

# Short timeouts: one node on loopback, and tests want failures found quickly.
SlurmctldTimeout=10
SlurmdTimeout=30
MessageTimeout=10
InactiveLimit=0
KillWait=5
Waittime=0
UnkillableStepTimeout=60

# Accounting through slurmdbd + MariaDB: sacct must work (the Snakemake slurm
# executor and submitit poll it to learn a job's fate).
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=$NODE
AccountingStorageTRES=gres/gpu
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=30
JobCompType=jobcomp/none

GresTypes=gpu
$node
PartitionName=cpu Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=$NODE Default=NO MaxTime=INFINITE State=UP
EOF

    # GPUs that only schedule: Slurm sets CUDA_VISIBLE_DEVICES in the job, nothing more.
    install_file "$ETC/gres.conf" 644 root:root <<EOF
# $MARKER
AutoDetect=off
NodeName=$NODE Name=gpu File=$gpus
EOF

    install_file "$ETC/cgroup.conf" 644 root:root <<EOF
# $MARKER
CgroupPlugin=cgroup/v1
CgroupAutomount=no
ConstrainCores=no
ConstrainDevices=no
ConstrainRAMSpace=no
ConstrainSwapSpace=no
EOF

    # slurmdbd refuses a slurmdbd.conf that others can read (it holds the DB password).
    install_file "$ETC/slurmdbd.conf" 600 slurm:slurm <<EOF
# $MARKER
AuthType=auth/munge
DbdHost=$NODE
DbdPort=6819
SlurmUser=slurm
PidFile=$(pidfile_of slurmdbd)
LogFile=$(logfile_of slurmdbd)
DebugLevel=info
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=$password
StorageLoc=slurm_acct_db
EOF

    install_file "$MARIADB_CNF" 644 root:root <<EOF
# $MARKER
[mysqld]
user=mysql
datadir=$STATE_DIR/mysql
socket=$RUN/mysql/mariadb.sock
pid-file=$(pidfile_of mariadbd)
log-error=$(logfile_of mariadbd)
bind-address=127.0.0.1
port=$DB_PORT
skip-name-resolve
# slurmdbd logs an error below half of its recommended sizes; the pool is only
# allocated as it fills, so 1 GiB costs little on a test machine.
innodb_buffer_pool_size=1024M
innodb_log_file_size=64M
innodb_lock_wait_timeout=900

[client]
socket=$RUN/mysql/mariadb.sock
user=root
EOF
    link_etc_slurm
}

# Slurm's commands read /etc/slurm/slurm.conf unless SLURM_CONF is set; symlinks make
# sbatch, sinfo, submitit and Snakemake's executor work for everyone, unchanged.
link_etc_slurm() {
    local f dest
    mkdir -p /etc/slurm
    for f in slurm.conf gres.conf cgroup.conf slurmdbd.conf; do
        dest=/etc/slurm/$f
        if [[ -e $dest && ! -L $dest ]] && ! grep -q "$MARKER" "$dest" 2>/dev/null; then
            die "$dest exists and was not written by this script; move it away to use the test cluster."
        fi
        if [[ $(readlink "$dest" 2>/dev/null || true) != "$ETC/$f" ]]; then
            ln -sfn "$ETC/$f" "$dest"
        fi
    done
}

# ---------------------------------------------------------------- daemons

# spawn LOGNAME CMD...: start a daemon detached from this script: its own session
# (a Ctrl-C or a test runner killing our process group must not take it down), no
# inherited stdio (a pytest capturing our output would otherwise wait for EOF
# forever), and fd 9 closed (it holds the start/stop lock).
spawn() {
    local name=$1
    shift
    (cd / && exec setsid "${DAEMON_ENV[@]}" "$@") </dev/null >>"$LOG/$name.stdout" 2>&1 9>&-
}

# spawn_bg LOGNAME CMD...: the same for a daemon that stays in the foreground. The
# redirections sit on the backgrounded subshell itself, which then becomes the
# daemon (exec), so no shell lingers holding our stdout.
spawn_bg() {
    local name=$1
    shift
    (cd / && exec setsid "${DAEMON_ENV[@]}" "$@") </dev/null >>"$LOG/$name.stdout" 2>&1 9>&- &
}

# wait_until SECONDS CMD...: poll CMD every 0.2 s until it succeeds.
wait_until() {
    local deadline=$(($(date +%s) + $1))
    shift
    until "$@" >/dev/null 2>&1; do
        (($(date +%s) < deadline)) || return 1
        sleep 0.2
    done
}

# daemon_alive NAME: running by its PID file, or (mariadbd, which writes its PID file
# late) the process we just put in the background is still there.
daemon_alive() {
    running "$1" && return 0
    [[ $1 == mariadbd && -n ${MARIADBD_BG_PID:-} ]] && alive "$MARIADBD_BG_PID"
}

# wait_ready NAME CMD...: wait up to WAIT_S for CMD to succeed while daemon NAME runs.
# A daemon that exits (a fatal config error, a port in use) fails the start at once,
# with its log, rather than after the whole wait.
wait_ready() {
    local name=$1 deadline=$(($(date +%s) + WAIT_S)) grace=$(($(date +%s) + 3))
    shift
    until "$@" >/dev/null 2>&1; do
        if (($(date +%s) >= grace)) && ! daemon_alive "$name"; then
            die "$name exited during start-up" "$(logfile_of "$name")" "$LOG/$name.stdout"
        fi
        (($(date +%s) < deadline)) || die "$name did not become ready within $WAIT_S s" "$(logfile_of "$name")" "$LOG/$name.stdout"
        sleep 0.2
    done
}

start_munged() {
    if running munged; then
        say "munged already running (pid $(pid_of munged))"
        return 0
    fi
    if [[ ! -s $MUNGE_KEY ]]; then
        say "creating the munge key $MUNGE_KEY"
        mkdir -p /etc/munge
        mungekey --create --keyfile="$MUNGE_KEY" 2>/dev/null ||
            dd if=/dev/urandom of="$MUNGE_KEY" bs=1024 count=1 status=none
        chown munge:munge "$MUNGE_KEY"
        chmod 400 "$MUNGE_KEY"
    fi
    say "starting munged"
    # munged must run as the munge user, which owns the key and the socket folder.
    spawn munged runuser -u munge -- /usr/sbin/munged \
        --pid-file="$(pidfile_of munged)" --log-file="$(logfile_of munged)" \
        --seed-file="$STATE_DIR/munge/munged.seed" ||
        die "munged failed to start" "$(logfile_of munged)" "$LOG/munged.stdout"
    wait_ready munged munge_works
}

munge_works() { munge -n </dev/null | unmunge >/dev/null; }

mariadb_sql() { mariadb --defaults-file="$MARIADB_CNF" --batch --skip-column-names; }

start_mariadbd() {
    if running mariadbd; then
        say "mariadbd already running (pid $(pid_of mariadbd))"
    else
        if [[ ! -d $STATE_DIR/mysql/mysql ]]; then
            say "initialising the MariaDB data folder"
            mariadb-install-db --defaults-file="$MARIADB_CNF" --auth-root-authentication-method=socket \
                --skip-test-db >>"$LOG/mariadb-install-db.log" 2>&1 ||
                die "mariadb-install-db failed" "$LOG/mariadb-install-db.log"
        fi
        say "starting mariadbd (127.0.0.1:$DB_PORT)"
        # mariadbd stays in the foreground; run it in the background, detached.
        spawn_bg mariadbd /usr/sbin/mariadbd --defaults-file="$MARIADB_CNF"
        MARIADBD_BG_PID=$!
        wait_ready mariadbd mariadb-admin --defaults-file="$MARIADB_CNF" ping
    fi
    local password
    password=$(db_password)
    # Idempotent: creates the accounting database and its user on the first start,
    # and re-syncs the password with slurmdbd.conf on later ones.
    mariadb_sql <<EOF || die "could not create the accounting database" "$(logfile_of mariadbd)"
CREATE DATABASE IF NOT EXISTS slurm_acct_db;
CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY '$password';
CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$password';
ALTER USER 'slurm'@'127.0.0.1' IDENTIFIED BY '$password';
ALTER USER 'slurm'@'localhost' IDENTIFIED BY '$password';
GRANT ALL PRIVILEGES ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
GRANT ALL PRIVILEGES ON slurm_acct_db.* TO 'slurm'@'localhost';
EOF
}

sacctmgr_works() { sacctmgr -n -P list cluster format=Cluster; }

start_slurmdbd() {
    if running slurmdbd; then
        say "slurmdbd already running (pid $(pid_of slurmdbd))"
    else
        say "starting slurmdbd"
        spawn slurmdbd /usr/sbin/slurmdbd ||
            die "slurmdbd failed to start" "$(logfile_of slurmdbd)" "$LOG/slurmdbd.stdout"
    fi
    # The first start creates the accounting tables, which takes a few seconds.
    wait_ready slurmdbd sacctmgr_works
    if ! sacctmgr -n -P list cluster format=Cluster 2>/dev/null | grep -qx "$CLUSTER_NAME"; then
        say "registering cluster '$CLUSTER_NAME' with slurmdbd"
        sacctmgr -i add cluster "$CLUSTER_NAME" >/dev/null ||
            die "sacctmgr add cluster failed" "$(logfile_of slurmdbd)"
    fi
}

start_slurmctld() {
    if running slurmctld; then
        say "slurmctld already running (pid $(pid_of slurmctld))"
    else
        say "starting slurmctld"
        # -i: ignore unreadable state files rather than refusing to start.
        spawn slurmctld /usr/sbin/slurmctld -i ||
            die "slurmctld failed to start" "$(logfile_of slurmctld)" "$LOG/slurmctld.stdout"
    fi
    wait_ready slurmctld scontrol ping
}

start_slurmd() {
    if running slurmd; then
        say "slurmd already running (pid $(pid_of slurmd))"
    else
        say "starting slurmd"
        spawn slurmd /usr/sbin/slurmd ||
            die "slurmd failed to start" "$(logfile_of slurmd)" "$LOG/slurmd.stdout"
        wait_ready slurmd running slurmd
    fi
}

# node_state: scontrol's State= of our node, e.g. IDLE, MIXED, IDLE+DRAIN, DOWN*+NOT_RESPONDING.
node_state() {
    local line
    line=$(scontrol -o show node "$NODE" 2>/dev/null) || return 1
    [[ $line =~ (^|[[:space:]])State=([^[:space:]]+) ]] || return 1
    echo "${BASH_REMATCH[2]}"
}

# A node that accepts work: idle, mixed or allocated; not drained, down or unresponsive.
node_ready() {
    local s
    s=$(node_state) || return 1
    [[ $s =~ ^(IDLE|MIXED|ALLOCATED|COMPLETING)(\+(COMPLETING|PLANNED|RESERVED))*$ ]]
}

sacct_works() { sacct -n -X -a -S now-5minutes -o JobID; }

# Wait for the node; resume it when it is drained or down (a bad GRES config, a
# test that drained it, or a slurmd that was away: the saved state keeps it drained).
wait_for_node() {
    local deadline=$(($(date +%s) + WAIT_S)) s resumed=0
    while ! node_ready; do
        s=$(node_state || echo unknown)
        if ((!resumed)) && [[ $s == *DRAIN* || $s == DOWN* || $s == *FAIL* ]] && [[ $s != *NOT_RESPONDING* && $s != *'*'* ]]; then
            say "node $NODE is $s (reason: $(node_reason)); resuming it"
            scontrol update nodename="$NODE" state=resume ||
                die "could not resume node $NODE" "$(logfile_of slurmctld)" "$(logfile_of slurmd)"
            resumed=1
        fi
        if (($(date +%s) >= deadline)); then
            die "node $NODE is not ready after $WAIT_S s (state $s, reason: $(node_reason))" \
                "$(logfile_of slurmctld)" "$(logfile_of slurmd)"
        fi
        sleep 0.2
    done
}

node_reason() {
    local line
    line=$(scontrol -o show node "$NODE" 2>/dev/null) || { echo "?"; return; }
    if [[ $line =~ Reason=(.*)$ ]]; then echo "${BASH_REMATCH[1]}"; else echo "none"; fi
}

all_running() {
    local d
    for d in "${DAEMONS[@]}"; do running "$d" || return 1; done
}

healthy() { all_running && node_ready && sacct_works >/dev/null 2>&1; }

# One cluster per machine: the Slurm ports (6817-6819) and munge's socket are fixed.
# A daemon of the same name that is not ours (another state folder, a packaged
# service) would make our start fail in confusing ways, so refuse it up front.
refuse_foreign_daemons() {
    local d pid ours
    for d in munged slurmdbd slurmctld slurmd; do
        ours=$(pid_of "$d" || true)
        for pid in $(pgrep -x "$d" || true); do
            [[ $pid == "$ours" ]] && continue
            # A daemon's exited start-up fork lingers as a zombie until PID 1 reaps it.
            alive "$pid" || continue
            # slurmctld forks a helper (slurmscriptd) that shows the same name.
            [[ -n $ours && $(awk '{print $4}' "/proc/$pid/stat" 2>/dev/null) == "$ours" ]] && continue
            die "another $d (pid $pid, not started from $STATE_DIR) is running; stop it first (is SYNTHACT_SLURM_DIR different from the running cluster's?)"
        done
    done
}

cmd_start() {
    need_root start
    packages_installed || die "Slurm is not installed: run '$0 install' (or '$0 up')."
    ensure_hostname_resolves
    make_dirs
    take_lock
    write_configs
    if ((${#CHANGED_FILES[@]} == 0)) && healthy; then
        say "already running and healthy: node $NODE $(node_state), nothing to do"
        return 0
    fi
    local t_start
    t_start=$(date +%s%3N)
    if ((${#CHANGED_FILES[@]})) && { running slurmctld || running slurmd || running slurmdbd || running mariadbd; }; then
        # A running daemon keeps its old config (GRES and node changes even need a
        # slurmctld restart): restart the daemons whose files changed; start brings
        # them back below.
        say "configuration changed (${CHANGED_FILES[*]}): restarting the affected daemons"
        local d
        for d in slurmd slurmctld slurmdbd; do stop_daemon "$d"; done
        if [[ " ${CHANGED_FILES[*]} " == *" mariadb.cnf "* ]]; then stop_daemon mariadbd; fi
    fi
    refuse_foreign_daemons
    start_munged
    start_mariadbd
    start_slurmdbd
    start_slurmctld
    start_slurmd
    wait_for_node
    wait_until "$WAIT_S" sacct_works ||
        die "sacct does not work" "$(logfile_of slurmdbd)" "$(logfile_of slurmctld)"
    say "cluster '$CLUSTER_NAME' up in $(seconds_since "$t_start") s: node $NODE $(node_state); partitions cpu (default) and gpu (gpu:$GPU_COUNT)"
    sinfo
}

# ---------------------------------------------------------------- stop

# stop_daemon NAME: SIGTERM by PID file, wait for the exit, SIGKILL as a last resort.
stop_daemon() {
    local name=$1 pid i
    if ! pid=$(pid_of "$name"); then
        rm -f "$(pidfile_of "$name")"
        return 0
    fi
    say "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    # 30 s: mariadbd flushes InnoDB on the way out; the Slurm daemons save state.
    for ((i = 0; i < 300; i++)); do
        alive "$pid" || break
        sleep 0.1
    done
    if alive "$pid"; then
        warn "$name (pid $pid) ignored SIGTERM for 30 s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do
            alive "$pid" || break
            sleep 0.1
        done
    fi
    rm -f "$(pidfile_of "$name")"
}

cmd_stop() {
    need_root stop
    if [[ ! -d $STATE_DIR ]]; then
        say "nothing to stop: $STATE_DIR does not exist"
        return 0
    fi
    take_lock
    local t_start d i
    t_start=$(date +%s%3N)
    for ((i = ${#DAEMONS[@]} - 1; i >= 0; i--)); do
        d=${DAEMONS[i]}
        stop_daemon "$d"
    done
    # Jobs still running keep their slurmstepd; a later start reconnects to them.
    say "stopped in $(seconds_since "$t_start") s"
}

# ---------------------------------------------------------------- status

cmd_status() {
    local d pid n_up=0
    printf 'state folder: %s\n' "$STATE_DIR"
    for d in "${DAEMONS[@]}"; do
        if pid=$(pid_of "$d"); then
            printf '  %-10s running (pid %s)\n' "$d" "$pid"
            n_up=$((n_up + 1))
        else
            printf '  %-10s stopped\n' "$d"
        fi
    done
    if ((n_up == 0)); then
        echo "cluster: stopped"
        return 3
    fi
    NODE=$(hostname -s)
    local s
    s=$(node_state || echo "unknown (slurmctld not answering)")
    printf '  node %s: %s\n' "$NODE" "$s"
    if healthy; then
        echo "cluster: healthy"
        sinfo 2>/dev/null || true
        return 0
    fi
    echo "cluster: NOT healthy (run '$0 start' to repair)"
    return 1
}

# ---------------------------------------------------------------- main

# One start/stop at a time: two test sessions starting the cluster together must
# not both spawn daemons.
take_lock() {
    exec 9>"$STATE_DIR/lock"
    flock -w 600 9 || die "another slurm-cluster.sh holds $STATE_DIR/lock"
}

usage() {
    sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
}

main() {
    local cmd=${1:-}
    TMPDIR_INSTALL=${TMPDIR:-/tmp}
    case $cmd in
        install) cmd_install ;;
        start) cmd_start ;;
        stop) cmd_stop ;;
        status) cmd_status ;;
        up)
            cmd_install
            cmd_start
            ;;
        -h | --help | help) usage ;;
        *)
            usage >&2
            exit 2
            ;;
    esac
}

main "$@"
