"""The widgets of the main screen. Each renders a ``core.view.Frame`` and imports nothing
else from core:

- ``StatusLine.show(frame, mode="")``, ``RowsTable.show(frame)``, ``InputSpace.show(frame)``,
  ``LossPlot.show(frame)``;
- ``NetworkDiagram.show(frame, selected)`` (posts ``ParamClicked(name)``; its dashes move for
  a moment after each new epoch unless ``app.animation_level == "none"``);
- ``ParamsTable.show(frame, selected)`` (a DataTable; posts ``Highlighted(name)`` when the user
  moves the cursor and ``Chosen(name)`` on enter or a click on the cursor row);
- ``EventPanel.show(frame, message="")`` (a scrolling panel; it leads with ``frame.checklist``);
- ``WhyView.show(explanation)`` (the ``y`` screen's scrolling view of one explanation of
  ``core.view``: ``ParamExplanation`` ... ``CaseExplanation``; ``why.checklist`` draws the case
  checklist);
- ``panel.boxed(id, title, widget)``: the titled panel around a widget, which
  ``screen.maximize`` (or ``screen.action_maximize`` on the focused widget) fills the screen with.
"""
