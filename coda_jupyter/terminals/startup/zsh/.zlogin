# See .zshenv here: the last start-up file of a login shell.
if (( ${+_coda_user_zdotdir} )); then ZDOTDIR=$_coda_user_zdotdir; else unset ZDOTDIR; fi
[[ -r ${ZDOTDIR:-$HOME}/.zlogin ]] && source "${ZDOTDIR:-$HOME}/.zlogin"
source "$_coda_zdotdir/../path.sh"
unset _coda_zdotdir _coda_user_zdotdir
