/**
 * Let terminal shortcuts win over xterm.
 *
 * JupyterLab matches shortcuts on keydown in the bubble phase, but xterm
 * handles keys on its textarea and stops them (Alt+V would type "ESC v").
 * A capture-phase listener looks the keystroke up in the live key bindings
 * (so remapped shortcuts work) and runs the command first — for a known set
 * of commands only, so every other key still reaches the terminal.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { CommandRegistry } from '@lumino/commands';

export function interceptShortcuts(
  app: JupyterFrontEnd,
  node: HTMLElement,
  commands: ReadonlySet<string>
): void {
  node.addEventListener(
    'keydown',
    (event: KeyboardEvent) => {
      if (event.isComposing || !(event.target instanceof Element)) {
        return;
      }
      const keystroke = CommandRegistry.keystrokeForKeydownEvent(event);
      const target = event.target;
      const binding = app.commands.keyBindings.find(
        candidate =>
          commands.has(candidate.command) &&
          candidate.keys.length === 1 &&
          CommandRegistry.normalizeKeystroke(candidate.keys[0]) === keystroke &&
          target.closest(candidate.selector) !== null &&
          app.commands.isEnabled(candidate.command, candidate.args)
      );
      if (!binding) {
        return;
      }
      event.preventDefault();
      event.stopPropagation();
      void app.commands.execute(binding.command, binding.args);
    },
    true
  );
}
