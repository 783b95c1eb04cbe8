# Sourced (POSIX sh, bash or zsh) once the user's own start-up files have run.
# Login files reset PATH (Debian's /etc/profile does), so the terminal's own
# directories (CODA_PATH_FIRST: ~/.local/bin, where setup installs the agents,
# and extra_path) go back in front. Whatever the start-up files put on PATH
# stays, in their order, and the server's PATH (CODA_TERMINAL_PATH) follows,
# each directory once; empty entries, which would mean ".", are dropped.
_coda_rest="${CODA_PATH_FIRST-}:${PATH-}:${CODA_TERMINAL_PATH-}"
_coda_path=
while [ -n "$_coda_rest" ]; do
  _coda_dir=${_coda_rest%%:*}
  case $_coda_rest in
    *:*) _coda_rest=${_coda_rest#*:} ;;
    *) _coda_rest= ;;
  esac
  if [ -n "$_coda_dir" ]; then
    case ":$_coda_path:" in
      *:"$_coda_dir":*) ;;
      *) _coda_path=${_coda_path:+$_coda_path:}$_coda_dir ;;
    esac
  fi
done
PATH=$_coda_path
export PATH
unset _coda_rest _coda_path _coda_dir
