# See .zshenv here.
if (( ${+_coda_user_zdotdir} )); then ZDOTDIR=$_coda_user_zdotdir; else unset ZDOTDIR; fi
[[ -r ${ZDOTDIR:-$HOME}/.zprofile ]] && source "${ZDOTDIR:-$HOME}/.zprofile"
if (( ${+ZDOTDIR} )); then _coda_user_zdotdir=$ZDOTDIR; else unset _coda_user_zdotdir; fi
ZDOTDIR=$_coda_zdotdir
