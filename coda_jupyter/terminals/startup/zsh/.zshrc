# See .zshenv here.
if (( ${+_coda_user_zdotdir} )); then ZDOTDIR=$_coda_user_zdotdir; else unset ZDOTDIR; fi
[[ -r ${ZDOTDIR:-$HOME}/.zshrc ]] && source "${ZDOTDIR:-$HOME}/.zshrc"
if [[ -o login ]]; then
  if (( ${+ZDOTDIR} )); then _coda_user_zdotdir=$ZDOTDIR; else unset _coda_user_zdotdir; fi
  ZDOTDIR=$_coda_zdotdir
else
  source "$_coda_zdotdir/../path.sh"
  unset _coda_zdotdir _coda_user_zdotdir
fi
