# zsh in coda-jupyter terminals starts with ZDOTDIR pointing here, so it reads
# these files; each reads the user's own file of the same name, with ZDOTDIR as
# the user has it, and the last one (.zlogin, or .zshrc when not a login
# shell) fixes the terminal's PATH and hands ZDOTDIR back. The user's files are
# read at top level, not from a function, so their typeset and local settings
# keep their meaning.
_coda_zdotdir=$ZDOTDIR
if (( ${+CODA_USER_ZDOTDIR} )); then ZDOTDIR=$CODA_USER_ZDOTDIR; else unset ZDOTDIR; fi
unset CODA_USER_ZDOTDIR
[[ -r ${ZDOTDIR:-$HOME}/.zshenv ]] && source "${ZDOTDIR:-$HOME}/.zshenv"
if (( ${+ZDOTDIR} )); then _coda_user_zdotdir=$ZDOTDIR; else unset _coda_user_zdotdir; fi
ZDOTDIR=$_coda_zdotdir
