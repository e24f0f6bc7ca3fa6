// rjsf over the CSP-safe validator, with the settings every form here wants:
// errors from the validator (not the browser's bubbles) next to each field.
// A schema rjsf cannot render (schemas are tenant uploads) falls back to a
// JSON editor instead of taking the page down.
import Form from "@rjsf/core";
import type { IChangeEvent } from "@rjsf/core";
import type { DescriptionFieldProps, RJSFSchema, UiSchema, WidgetProps } from "@rjsf/utils";
import { Component, useState } from "react";
import type { ReactNode } from "react";
import validator from "../validator";
import { formSchema } from "./common";
import { reflow } from "../text";

interface Props {
  schema: unknown;
  formData: unknown;
  idPrefix: string;
  testId?: string;
  onChange?: (data: unknown) => void;
  onSubmit: (data: unknown) => void;
  disabled?: boolean;
  children: ReactNode;
}

/** rjsf's file widget renders file names through a Markdown renderer; a
 * console has no use for data-URL uploads inside tool configuration. */
function NoFileWidget(props: WidgetProps) {
  return (
    <input
      id={props.id}
      type="text"
      className="form-control"
      value={typeof props.value === "string" ? props.value : ""}
      disabled={props.disabled || props.readonly}
      onChange={(e) => props.onChange(e.target.value === "" ? undefined : e.target.value)}
    />
  );
}

/** rjsf's description, with a doc comment's hard-wrapped lines joined. */
function DescriptionField({ id, description }: DescriptionFieldProps) {
  if (!description) return null;
  if (typeof description === "string") {
    return (
      <p id={id} className="field-description">
        {reflow(description)}
      </p>
    );
  }
  return (
    <div id={id} className="field-description">
      {description}
    </div>
  );
}

const widgets = { FileWidget: NoFileWidget };
const templates = { DescriptionFieldTemplate: DescriptionField };
const uiSchema: UiSchema = { "ui:submitButtonOptions": { norender: true } };

export function SchemaForm(props: Props) {
  return (
    <div className="schema-form" data-testid={props.testId}>
      <Boundary fallback={(err) => <JsonFallback {...props} reason={err} />}>
        <Form
          schema={formSchema(props.schema) as RJSFSchema}
          uiSchema={uiSchema}
          formData={props.formData}
          validator={validator}
          widgets={widgets}
          templates={templates}
          idPrefix={props.idPrefix}
          idSeparator="_"
          noHtml5Validate
          showErrorList="top"
          disabled={props.disabled}
          onChange={props.onChange ? (e: IChangeEvent) => props.onChange?.(e.formData) : undefined}
          onSubmit={(e: IChangeEvent) => props.onSubmit(e.formData)}
        >
          {props.children}
        </Form>
      </Boundary>
    </div>
  );
}

class Boundary extends Component<{ fallback: (err: string) => ReactNode; children: ReactNode }, { error: string | null }> {
  override state = { error: null as string | null };
  static getDerivedStateFromError(err: unknown) {
    return { error: err instanceof Error ? err.message : String(err) };
  }
  override render() {
    return this.state.error !== null ? this.props.fallback(this.state.error) : this.props.children;
  }
}

/** The value as JSON text, checked against the schema on submit. */
function JsonFallback(props: Props & { reason: string }) {
  const [text, setText] = useState(() => JSON.stringify(props.formData ?? {}, null, 2));
  const [error, setError] = useState<string | null>(null);
  const id = `${props.idPrefix}_json`;
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        let data: unknown;
        try {
          data = JSON.parse(text);
        } catch (err) {
          setError(`Not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
          return;
        }
        const v = validator.validateFormData(data, formSchema(props.schema) as RJSFSchema);
        if (v.errors.length > 0) {
          setError(v.errors.map((x) => x.stack).join("\n"));
          return;
        }
        setError(null);
        props.onSubmit(data);
      }}
    >
      <p className="muted small">This schema cannot be shown as a form ({props.reason}); edit the value as JSON.</p>
      <div className="form-group">
        <label className="control-label" htmlFor={id}>
          Value (JSON)
        </label>
        <textarea
          id={id}
          className="form-control json-input"
          rows={10}
          spellCheck={false}
          value={text}
          onChange={(e) => {
            setText(e.target.value);
            try {
              props.onChange?.(JSON.parse(e.target.value));
            } catch {
              // Not JSON yet.
            }
          }}
        />
      </div>
      {error ? (
        <pre className="problem-detail" role="alert">
          {error}
        </pre>
      ) : null}
      {props.children}
    </form>
  );
}
